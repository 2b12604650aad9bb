"""The risk query's lane answers exactly as the Litestar routes it stands in for.

Every request here goes to two builds of the app over raw ASGI: as built
(``POST /v1/risk/query`` and ``/batch`` taken by ``http/lane.py``) and with the
lane removed (the same requests answered by the Litestar routes). Each build
gets its own freshly signed request, so a token is never spent twice unless a
case means it to be. Status, headers and problem documents must be identical;
a successful answer must be identical but for its query ids and receipts,
which are fresh per answer.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import msgspec
import pytest

from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.http.edge import Edge
from refund_registry.runtime import Runtime
from tests.support.factories import ident, pseudonym, report_body
from tests.support.principals import MakePrincipal

QUERY = "/v1/risk/query"
BATCH = "/v1/risk/query/batch"

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def call(
    app: Any,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes],
    *,
    query: bytes = b"",
) -> Answer:
    """POST over raw ASGI: the body in ``chunks`` (more to come after each but the last)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"registry")]
        + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("registry", 80),
    }
    events = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], sorted(start["headers"]), body


def _fresh(value: Any) -> Any:
    """An answer with what is fresh per answer (query ids, receipts) blanked."""
    if isinstance(value, dict):
        return {k: "…" if k in ("query_id", "receipt") else _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def _comparable(answer: Answer) -> tuple[int, list[tuple[bytes, bytes]], Any]:
    status, headers, body = answer
    if status == 200:
        headers = [(k, b"-" if k == b"content-length" else v) for k, v in headers]
        return status, headers, _fresh(json.loads(body))
    return status, headers, json.loads(body)


@pytest.fixture
def builds(settings: Settings, runtime: Runtime) -> tuple[Any, Any]:
    """The app as built, and the same app with its lane removed."""
    small = dataclasses.replace(settings, max_body_bytes=4096, max_bulk_body_bytes=65536)
    with_lane = create_app(small, runtime_override=runtime)
    edge = with_lane.asgi_handler
    assert isinstance(edge, Edge)
    assert set(edge.lanes) == {("POST", QUERY), ("POST", BATCH)}
    without = create_app(small, runtime_override=runtime)
    edge = without.asgi_handler
    assert isinstance(edge, Edge)
    assert edge.lanes
    edge.lanes = {}
    return with_lane, without


def _queries(n: int, known: str) -> dict[str, Any]:
    items = [
        {"identifiers": [ident(known), ident(pseudonym(), "email")], "purpose": "refund_decision"}
        for _ in range(n)
    ]
    return {"queries": items}


# (name, path, body, extra headers, how the request is signed)
CASES: list[tuple[str, str, Any, dict[str, str], str]] = [
    ("answer", QUERY, "one", {}, "member"),
    (
        "answer in English, receipt v2",
        QUERY,
        "one",
        {"Accept-Language": "en", "Registry-Receipt-Version": "2"},
        "member",
    ),
    ("answer, receipt v1 asked", QUERY, "one", {"Registry-Receipt-Version": "1"}, "member"),
    ("batch", BATCH, "batch", {"Registry-Receipt-Version": "2"}, "member"),
    ("unknown receipt version", QUERY, "one", {"Registry-Receipt-Version": "3"}, "member"),
    ("unsigned", QUERY, "one", {}, "none"),
    ("not a token", QUERY, "one", {"Authorization": "Bearer a.b.c"}, "none"),
    ("wrong role", QUERY, "one", {}, "auditor"),
    ("signed for another body", QUERY, "one", {}, "other body"),
    ("signed for another path", QUERY, "one", {}, "other path"),
    ("not JSON", QUERY, b"{not json", {}, "member"),
    ("empty body", QUERY, b"", {}, "member"),
    (
        "unknown field",
        QUERY,
        {"identifiers": [], "purpose": "refund_decision", "x": 1},
        {},
        "member",
    ),
    ("wrong type", QUERY, {"identifiers": "phone", "purpose": "refund_decision"}, {}, "member"),
    ("bad purpose", QUERY, {"identifiers": [ident("AAAA")], "purpose": "curiosity"}, {}, "member"),
    (
        "bad pseudonym, in English",
        QUERY,
        {"identifiers": [ident("+/=")], "purpose": "refund_decision"},
        {"Accept-Language": "en"},
        "member",
    ),
    ("empty batch", BATCH, {"queries": []}, {}, "member"),
    ("announced too large", QUERY, "one", {"Content-Length": "5000"}, "member"),
    ("content-length not a number", QUERY, "one", {"Content-Length": "12x"}, "member"),
    ("content-length not ASCII", QUERY, "one", {"Content-Length": "\xe9"}, "member"),
]


def _body(kind: Any, known: str) -> bytes:
    if kind == "one":
        return msgspec.json.encode({"identifiers": [ident(known)], "purpose": "refund_decision"})
    if kind == "batch":
        return msgspec.json.encode(_queries(3, known))
    return kind if isinstance(kind, bytes) else msgspec.json.encode(kind)


@pytest.mark.parametrize(("name", "path", "kind", "extra", "how"), CASES, ids=[c[0] for c in CASES])
async def test_the_lane_answers_as_the_route_does(
    builds: tuple[Any, Any],
    make_principal: MakePrincipal,
    name: str,
    path: str,
    kind: Any,
    extra: dict[str, str],
    how: str,
) -> None:
    member, auditor = await make_principal(), await make_principal("auditor")
    known = pseudonym()
    answers = []
    for app in builds:
        body = _body(kind, known)
        headers = {"Content-Type": "application/json", **extra}
        if how in ("member", "auditor"):
            signer = member if how == "member" else auditor
            headers.update(signer.headers("POST", path, body))
        elif how == "other body":
            headers.update(member.headers("POST", path, body + b" "))
        elif how == "other path":
            headers.update(member.headers("POST", path + "/", body))
        answers.append(await call(app, path, headers, [body]))
    lane, route = (_comparable(a) for a in answers)
    assert lane == route, name


async def test_a_known_buyer_is_scored_the_same_both_ways(
    builds: tuple[Any, Any], make_principal: MakePrincipal, runtime: Runtime
) -> None:
    reporter, asker = await make_principal(), await make_principal()
    buyer = pseudonym()
    filed = msgspec.json.encode(report_body(identifiers=[ident(buyer)]))
    status, _, _ = await call(
        builds[0],
        "/v1/reports",
        {"Content-Type": "application/json", **reporter.headers("POST", "/v1/reports", filed)},
        [filed],
    )
    assert status == 201
    answers = []
    for app in builds:
        headers, body = _signed_query(asker, QUERY, buyer)
        answers.append(await call(app, QUERY, headers, [body]))
    lane, route = (_comparable(a) for a in answers)
    assert lane == route
    assert lane[0] == 200
    assert lane[2]["score"] > 0
    assert lane[2]["counts"]["active_reports"] == 1


def _signed_query(
    signer: Any, target: str, buyer: str | None = None
) -> tuple[dict[str, str], bytes]:
    """A one-identifier query signed for ``target`` (the path, and any query string)."""
    body = msgspec.json.encode(
        {"identifiers": [ident(buyer or pseudonym())], "purpose": "refund_decision"}
    )
    return {"Content-Type": "application/json", **signer.headers("POST", target, body)}, body


@pytest.mark.parametrize(
    ("queries", "status"),
    [
        (40, 200),  # past the single route's 4,096 bytes, within the batch route's 65,536
        (700, 413),  # past 65,536 bytes, announced by no Content-Length
    ],
)
async def test_streamed_bodies_are_read_and_limited_alike(
    builds: tuple[Any, Any], make_principal: MakePrincipal, queries: int, status: int
) -> None:
    member = await make_principal()
    answers = []
    for app in builds:
        body = msgspec.json.encode(_queries(queries, pseudonym()))
        chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
        headers = {"Content-Type": "application/json", **member.headers("POST", BATCH, body)}
        answers.append(await call(app, BATCH, headers, chunks))
    lane, route = (_comparable(a) for a in answers)
    assert lane == route
    assert lane[0] == status


async def test_a_replayed_token_is_refused_alike(
    builds: tuple[Any, Any], make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    answers = []
    for app in builds:
        headers, body = _signed_query(member, QUERY)
        first = await call(app, QUERY, headers, [body])
        assert first[0] == 200
        answers.append(await call(app, QUERY, headers, [body]))
    lane, route = (_comparable(a) for a in answers)
    assert lane == route
    assert lane[0] == 401
    assert lane[2]["code"] == "auth.replayed"


async def test_a_query_string_is_part_of_the_signed_target_both_ways(
    builds: tuple[Any, Any], make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    answers = []
    for app in builds:
        headers, body = _signed_query(member, QUERY + "?a=1")
        answers.append(await call(app, QUERY, headers, [body], query=b"a=1"))
    lane, route = (_comparable(a) for a in answers)
    assert lane == route
    assert lane[0] == 200
