"""The app's edge: the language headers of every answer, and the request series it records."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from refund_registry.http.edge import Edge
from refund_registry.http.locale import announce_language

STATE = {"refund_registry.locale": "en"}  # negotiated already, as a route does


def reference(message: dict[str, Any], path: str) -> list[tuple[bytes, bytes]] | None:
    """The rule spelled out naively: the headers the answer must leave with (None: as sent)."""
    if path == "/portal" or path.startswith("/portal/"):
        return None
    headers = list(message.get("headers", ()))
    names = [n.lower() for n, _ in headers]
    if b"content-language" not in names:
        types = [v for n, v in headers if n.lower() == b"content-type"]
        if not types or b"json" not in types[0]:
            return None
        headers = [*headers, (b"content-language", b"en")]
    varies = [i for i, (n, _) in enumerate(headers) if n.lower() == b"vary"]
    if not varies:
        return [*headers, (b"vary", b"Accept-Language")]
    first = varies[0]
    tokens = [t.strip().lower() for t in headers[first][1].split(b",")]
    if b"accept-language" in tokens or b"*" in tokens:
        return headers
    headers[first] = (headers[first][0], headers[first][1] + b", Accept-Language")
    return headers


NAMES = st.sampled_from(
    [b"content-type", b"Content-Type", b"content-language", b"vary", b"Vary", b"x-other"]
)
VALUES = st.sampled_from(
    [b"application/json", b"application/problem+json", b"text/html", b"zh-CN", b"*",
     b"Origin", b"accept-language", b"Origin, Accept-Encoding", b""]
)  # fmt: skip
PATHS = st.sampled_from(["/health/live", "/portal", "/portal/signin", "/portalx", "/v1/x", ""])


@given(st.lists(st.tuples(NAMES, VALUES), max_size=6), PATHS)
def test_the_language_headers_follow_the_rule(
    headers: list[tuple[bytes, bytes]], path: str
) -> None:
    message: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": headers}
    expected = reference(message, path)
    sent = list(headers)
    announce_language(message, {"path": path, "state": dict(STATE)})
    assert message["headers"] == (sent if expected is None else expected)


def count(method: str, path: str, status: int, name: str = "litestar_requests_total") -> float:
    labels = {"method": method, "path": path, "status_code": str(status)}
    value = REGISTRY.get_sample_value(name, {**labels, "app_name": "refund_registry"})
    return value or 0.0


def call(edge: Edge, method: str, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": method, "path": path, "state": dict(STATE), "headers": []}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # Nothing here waits on I/O, so the call completes on its first step:
    # no event loop is needed (starting one per example is slow on a busy machine).
    step = edge(scope, receive, send)
    try:
        step.send(None)
    except StopIteration:
        return sent
    raise AssertionError("the edge waited for something")


async def routed(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A stand-in for Litestar's router: templates ``/items/{id}``; anything else is a 404."""
    matched = scope["path"].startswith("/items/")
    if matched:
        scope["path_template"] = "/items/{id}"
    status = 200 if matched and scope["method"] != "DELETE" else 404 if not matched else 503
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"{", "more_body": True})
    await send({"type": "http.response.body", "body": b"}"})


def test_requests_are_counted_by_template_and_unmatched_ones_not_at_all() -> None:
    edge = Edge(routed)
    before = [count("GET", "/items/{id}", 200), count("DELETE", "/items/{id}", 503)]
    errors = count("DELETE", "/items/{id}", 503, "litestar_requests_error_total")
    for item in ("a", "b", "c"):
        sent = call(edge, "GET", f"/items/{item}")
        assert (b"vary", b"Accept-Language") in sent[0]["headers"]
        assert [m["type"] for m in sent].count("http.response.body") == 2
    call(edge, "DELETE", "/items/a")
    call(edge, "GET", "/elsewhere")
    assert count("GET", "/items/{id}", 200) == before[0] + 3
    assert count("DELETE", "/items/{id}", 503) == before[1] + 1
    assert count("DELETE", "/items/{id}", 503, "litestar_requests_error_total") == errors + 1
    assert count("GET", "/items/{id}", 200, "litestar_requests_error_total") == 0
    assert count("GET", "/elsewhere", 404) == 0


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12))
def test_a_method_outside_the_standard_ones_is_counted_as_other(method: str) -> None:
    standard = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
    label = method if method in standard else "OTHER"
    before = count(label, "/items/{id}", 200)
    call(Edge(routed), method, "/items/x")
    if method != "DELETE":  # the stand-in answers DELETE with a 503
        assert count(label, "/items/{id}", 200) == before + 1
    if method != label:
        assert count(method, "/items/{id}", 200) == 0
