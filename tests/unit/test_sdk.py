"""The SDK's own behaviour against scripted answers: typed results, the pinned key, retries.

The answers come from an ``httpx.MockTransport``, so these tests pin what the
SDK makes of a status, a header or a body; ``tests/api/test_sdk.py`` runs the
same calls against the real app.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.client import (
    ApiResult,
    AsyncRegistryClient,
    Filed,
    KeyServiceKeyMissing,
    Receipt,
    RegistryApiError,
    RegistryClient,
    RetryPolicy,
    RiskAnswer,
    Signer,
    UnexpectedAnswer,
    afetch_keyservice_public_key,
    fetch_keyservice_public_key,
)
from refund_registry.domain import oprf

RECEIPT = {"leaf_hash": "bGVhZg", "logged_at": "2026-11-20T10:00:00Z", "signature": "c2ln"}
FILED = {
    "report_id": "rpt_1",
    "status": "active",
    "expires_at": "2029-11-20T10:00:00Z",
    "receipt": RECEIPT,
}
RISK = {
    "score": 412,
    "band": "elevated",
    "reasons": [{"code": "reports.one", "text": "one confirmed report"}],
    "matched_kinds": ["phone"],
    "counts": {"active_reports": 1, "platforms": 1, "disputed": 0},
    "latest_confirmed_at": "2026-11-20T10:00:00Z",
    "statement": None,
    "notice": "Show this to the buyer.",
    "query_id": "q_1",
    "receipt": RECEIPT,
    "added_later": "ignored by older SDKs",
}
IDS = [{"kind": "phone", "pseudonym": "p" * 86}]

Handler = Callable[[httpx.Request], httpx.Response]


def signer() -> Signer:
    return Signer("mbr_0000000000000001", "kid", ed25519.Ed25519PrivateKey.generate())


def client(handler: Handler, **options: Any) -> RegistryClient:
    options.setdefault("sleep", lambda _: None)
    return RegistryClient(
        "http://registry", signer(), transport=httpx.MockTransport(handler), **options
    )


def json_answer(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_a_new_filing_and_its_replay_are_told_apart() -> None:
    statuses = iter([201, 200])
    with client(lambda _: json_answer(next(statuses), FILED, **{"X-Request-Id": "r1"})) as rr:
        first = rr.file_report({"case_reference": "RF-1"})
        again = rr.file_report({"case_reference": "RF-1"})
    assert isinstance(first, Filed)
    assert (first.created, first.http.status) == (True, 201)
    assert (again.created, again.http.status) == (False, 200)
    # The same report, the same receipt: only the status differs.
    assert dataclasses.replace(again, created=True) == first
    assert first.receipt == Receipt(**RECEIPT)
    assert first.http.headers["x-request-id"] == "r1"


def test_a_risk_answer_is_typed_and_ignores_added_fields() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return json_answer(200, RISK)

    with client(handler) as rr:
        answer = rr.query(IDS, "refund_decision")
    assert isinstance(answer, RiskAnswer)
    assert (answer.score, answer.band, answer.counts.active_reports) == (412, "elevated", 1)
    assert answer.reasons[0].code == "reports.one"
    assert answer.matched_kinds == ("phone",)
    assert answer.http is not None
    assert answer.http.status == 200
    assert sent[0].url.path == "/v1/risk/query"
    assert sent[0].headers["authorization"].startswith("Bearer ")


def test_an_answer_missing_a_field_is_an_unexpected_answer() -> None:
    rr = client(lambda _: json_answer(200, {"score": 3}))
    with rr, pytest.raises(UnexpectedAnswer) as caught:
        rr.query(IDS, "refund_decision")
    assert caught.value.code == "client.unexpected_answer"
    assert isinstance(caught.value, RegistryApiError)


def test_an_error_keeps_its_problem_and_headers() -> None:
    problem = {"type": "t", "title": "Too many", "status": 429, "detail": "slow down"}
    answer = json_answer(429, {**problem, "code": "rate.limited"}, **{"Retry-After": "1"})
    with client(lambda _: answer) as rr, pytest.raises(RegistryApiError) as caught:
        rr.query(IDS, "refund_decision")
    assert (caught.value.status, caught.value.code) == (429, "rate.limited")
    assert caught.value.headers["retry-after"] == "1"


def test_filing_is_retried_on_503_with_a_fresh_token_each_time() -> None:
    tokens: list[str] = []
    statuses = iter([503, 503, 201])

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["authorization"])
        status = next(statuses)
        return json_answer(status, FILED if status == 201 else {}, **{"Retry-After": "0"})

    sleeps: list[float] = []
    with client(handler, sleep=sleeps.append, retry=RetryPolicy(attempts=3)) as rr:
        filed = rr.file_report({"case_reference": "RF-1"})
    assert filed.created
    assert sleeps == [0.0, 0.0]
    assert len(set(tokens)) == 3


def test_a_replay_window_refusal_is_signed_anew_and_sent_again_even_when_not_idempotent() -> None:
    """401 auth.replay_window comes before the call takes effect: any call may be re-sent."""
    tokens: list[str] = []
    answers = iter(
        [
            json_answer(
                401,
                {"code": "auth.replay_window"},
                **{"WWW-Authenticate": 'Bearer error="invalid_token", '
                   'error_description="auth.replay_window"'},
            ),
            json_answer(200, RISK),
        ]
    )  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["authorization"])
        return next(answers)

    sleeps: list[float] = []
    with client(handler, sleep=sleeps.append) as rr:
        answered = rr.query(IDS, "refund_decision")
    assert answered.matched_kinds == ("phone",)
    assert len(tokens) == 2
    assert len(set(tokens)) == 2
    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= 1.05  # until the clock is in the next second


def test_the_generic_call_and_the_old_get_post_methods() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert request.url.query == b"after=&limit=5"
            return json_answer(200, {"events": [], "next_cursor": "c1"})
        return httpx.Response(204)

    with client(handler) as rr:
        assert rr.get("/v1/events", params={"after": "", "limit": 5})["next_cursor"] == "c1"
        assert rr.post("/v1/somewhere", {}) is None
        result = rr.call("GET", "/v1/events", params={"after": "", "limit": 5})
        assert isinstance(result, ApiResult)
        assert result.status == 200
        page = rr.events(after="", limit=5)
    assert (page.events, page.next_cursor) == ((), "c1")


def test_pseudonymising_without_a_pinned_key_says_how_to_pin_one() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return json_answer(200, {"suite": oprf.SUITE, "public_key": "x"})

    with client(handler) as rr, pytest.raises(KeyServiceKeyMissing) as caught:
        rr.pseudonymise("phone", "13812345678")
    assert "fetch_keyservice_public_key" in str(caught.value)
    assert "keyservice_public_key=" in str(caught.value)
    assert sent == []  # nothing fetched, nothing trusted


async def test_the_async_client_shares_the_same_calls() -> None:
    statuses = iter([201, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return json_answer(next(statuses), FILED)

    async with AsyncRegistryClient(
        "http://registry", signer(), transport=httpx.MockTransport(handler)
    ) as rr:
        first = await rr.file_report({"case_reference": "RF-1"})
        again = await rr.file_report({"case_reference": "RF-1"})
        with pytest.raises(KeyServiceKeyMissing):
            await rr.pseudonymise("phone", "13812345678")
    assert (first.created, again.created) == (True, False)


def test_fetching_the_key_is_explicit_and_checked() -> None:
    raw = oprf.load_server_key(bytes(32)).public_key
    good = {"suite": oprf.SUITE, "public_key": oprf.b64e(raw)}

    def handler(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers  # a public route
        return json_answer(200, good)

    transport = httpx.MockTransport(handler)
    assert fetch_keyservice_public_key("http://registry", transport=transport) == oprf.b64e(raw)
    fetched = asyncio.run(afetch_keyservice_public_key("http://registry", transport=transport))
    assert fetched == oprf.b64e(raw)
    wrong_suite = httpx.MockTransport(lambda _: json_answer(200, {**good, "suite": "P256"}))
    with pytest.raises(oprf.InvalidKey):
        fetch_keyservice_public_key("http://registry", transport=wrong_suite)
    # The pinned key is checked when the client is built, not at first use.
    with pytest.raises(oprf.InvalidKey):
        client(handler, keyservice_public_key=oprf.b64e(b"\x01" * 32))
