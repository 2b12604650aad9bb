"""The key service end to end: the member SDK against the real key-service app.

The key-service app runs in the test's event loop behind an ``httpx`` ASGI
transport, with real PostgreSQL and Valkey. The SDK's synchronous client (its
main face) runs in a worker thread and reaches the app through
:class:`LoopBridge`, a transport that hands each request to the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from refund_registry.client import (
    AsyncRegistryClient,
    IdentifierRejected,
    ProofInvalid,
    RegistryApiError,
    RegistryClient,
    RetryPolicy,
    Signer,
    fetch_keyservice_public_key,
)
from refund_registry.config import Settings
from refund_registry.domain import identity, oprf
from refund_registry.http import keyservice_proxy
from refund_registry.http.app import create_app
from refund_registry.keyservice.app import create_keyservice_app, load_key
from refund_registry.keyservice.service import KeyService
from refund_registry.runtime import Runtime
from refund_registry.storage import keyservice as usage_counts
from refund_registry.storage.ratelimit import DAY, Limits
from tests.support.api import Api, assert_problem
from tests.support.bridge import LoopBridge
from tests.support.principals import MakePrincipal

EVALUATE = "/v1/keyservice/evaluate"
PUBLIC_KEY = "/v1/keyservice/public-key"
PHONE_SPELLINGS = ("13812345678", "+86 138-1234-5678", "0086 138 1234 5678")
ROOMY = Limits(per_second=1_000, per_day=1_000_000)


def keyservice_app(settings: Settings, runtime: Runtime, limits: Limits = ROOMY) -> Litestar:
    return create_keyservice_app(settings, runtime_override=runtime, limits=limits)


def service_of(app: Litestar) -> KeyService:
    service: KeyService = app.state.keyservice
    return service


def sdk(app: Litestar, signer: Signer, **options: Any) -> RegistryClient:
    """A client of ``app``, pinned to its key when ``app`` is a key service (members pin it)."""
    options.setdefault("sleep", lambda _: None)
    service = getattr(app.state, "keyservice", None)
    if service is not None:
        options.setdefault("keyservice_public_key", service.public_key)
    return RegistryClient(
        "http://registry",
        signer,
        transport=LoopBridge(app, asyncio.get_running_loop()),
        **options,
    )


def expected_pseudonym(settings: Settings, kind: str, value: str) -> str:
    """What the key service's key gives for this identifier when evaluated directly."""
    data = identity.oprf_input(kind, identity.normalise(kind, value))
    return oprf.pseudonym_to_str(oprf.evaluate_known_input(load_key(settings), data))


@pytest.fixture
def ks_app(settings: Settings, runtime: Runtime) -> Litestar:
    return keyservice_app(settings, runtime)


@pytest.fixture
async def ks(ks_app: Litestar) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=ks_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://keyservice") as client:
        yield Api(client)


@pytest.fixture
def member_sdk(ks_app: Litestar) -> Iterator[Any]:
    """A factory of SDK clients for ``ks_app``, closed after the test."""
    made: list[RegistryClient] = []

    def make(signer: Signer, **options: Any) -> RegistryClient:
        made.append(sdk(ks_app, signer, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


async def usage_of(runtime: Runtime, member: Signer) -> tuple[int, int] | None:
    today = dt.datetime.now(dt.UTC).date()
    row = await usage_counts.usage_of(runtime.pool, member_id=member.principal_id, day=today)
    return None if row is None else (row.requests, row.evaluations)


def blinded_body(count: int) -> dict[str, list[str]]:
    _, blinded = oprf.blind([f"x{i}".encode() for i in range(min(count, oprf.MAX_BATCH))])
    texts = [oprf.b64e(b) for b in blinded]
    return {"blinded": (texts * (count // len(texts) + 1))[:count] if texts else []}


# -- the happy path ------------------------------------------------------------


async def test_public_key_is_served_to_anyone(ks: Api, settings: Settings) -> None:
    response = await ks.client.get(PUBLIC_KEY)
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "suite": "ristretto255-SHA512",
        "public_key": oprf.b64e(load_key(settings).public_key),
    }
    assert len(oprf.b64d(body["public_key"])) == 32


async def test_key_file_is_generated_once_in_the_data_folder(settings: Settings) -> None:
    path = settings.data_dir / "keys" / "keyservice.key"
    first = load_key(settings)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_key(settings).public_key == first.public_key


async def test_sdk_pseudonymises_a_phone_number(
    member_sdk: Any, make_principal: MakePrincipal, settings: Settings, runtime: Runtime
) -> None:
    member = await make_principal()
    client = member_sdk(member)
    pseudonym = await asyncio.to_thread(client.pseudonymise, "phone", "13812345678")
    assert len(pseudonym) == oprf.PSEUDONYM_TEXT_LEN == 86
    assert len(oprf.pseudonym_from_str(pseudonym)) == 64
    # The blinded round trip gives exactly the OPRF of the normalised input.
    assert pseudonym == expected_pseudonym(settings, "phone", "13812345678")
    assert await usage_of(runtime, member) == (1, 1)


async def test_three_spellings_of_one_number_give_one_pseudonym(
    member_sdk: Any, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    client = member_sdk(member, cache_size=0)  # every spelling goes to the key service
    results = [await asyncio.to_thread(client.pseudonymise, "phone", s) for s in PHONE_SPELLINGS]
    assert len(set(results)) == 1
    assert await usage_of(runtime, member) == (3, 3)


async def test_pseudonymise_many_batches_by_100_keeps_order_and_dedupes(
    member_sdk: Any, make_principal: MakePrincipal, settings: Settings, runtime: Runtime
) -> None:
    member = await make_principal()
    client = member_sdk(member)
    devices = [("device_id", f"device-{i:03d}") for i in range(150)]
    pairs = [*devices, ("phone", PHONE_SPELLINGS[1]), ("phone", PHONE_SPELLINGS[2])]
    results = await asyncio.to_thread(client.pseudonymise_many, pairs)
    assert len(results) == 152
    assert results[5] == expected_pseudonym(settings, "device_id", "device-005")
    assert results[149] == expected_pseudonym(settings, "device_id", "device-149")
    assert results[150] == results[151] == expected_pseudonym(settings, "phone", "13812345678")
    assert len(set(results)) == 151
    # 151 distinct inputs: one batch of 100 and one of 51.
    assert await usage_of(runtime, member) == (2, 151)


async def test_the_cache_answers_repeat_lookups_without_a_call(
    member_sdk: Any, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    client = member_sdk(member)
    first = await asyncio.to_thread(client.pseudonymise, "email", "Buyer@Example.COM")
    again = await asyncio.to_thread(client.pseudonymise, "email", " buyer@example.com ")
    assert first == again
    assert len(client.cache) == 1
    assert await usage_of(runtime, member) == (1, 1)


async def test_async_client_gives_the_same_pseudonym(
    ks_app: Litestar, make_principal: MakePrincipal, settings: Settings
) -> None:
    member = await make_principal()
    async with AsyncRegistryClient(
        "http://registry",
        member,
        keyservice_public_key=oprf.b64e(load_key(settings).public_key),
        transport=httpx.ASGITransport(app=ks_app),
    ) as client:
        pseudonym = await client.pseudonymise("phone", PHONE_SPELLINGS[2])
    assert pseudonym == expected_pseudonym(settings, "phone", "13812345678")


async def test_a_proof_from_another_key_is_refused(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal, tmp_path: Path
) -> None:
    genuine = load_key(settings).public_key
    impostor_settings = settings.with_overrides(keyservice_key_file=tmp_path / "other.key")
    impostor = keyservice_app(impostor_settings, runtime)
    assert service_of(impostor).public_key != genuine
    member = await make_principal()
    with sdk(impostor, member, keyservice_public_key=oprf.b64e(genuine)) as client:
        with pytest.raises(ProofInvalid) as refused:
            await asyncio.to_thread(client.pseudonymise, "phone", "13812345678")
        assert refused.value.code == "keyservice.proof_invalid"
        assert len(client.cache) == 0


async def test_a_bad_identifier_fails_before_any_call(
    member_sdk: Any, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    client = member_sdk(member)
    with pytest.raises(IdentifierRejected) as refused:
        await asyncio.to_thread(
            client.pseudonymise_many, [("phone", "13812345678"), ("phone", "12345")]
        )
    assert refused.value.extra["kind"] == "phone"
    assert await usage_of(runtime, member) is None


# -- through the API's proxy routes ---------------------------------------------


def api_app(settings: Settings, runtime: Runtime, upstream: Litestar | None) -> Litestar:
    """The registry API with the key-service proxy routes, pointed at ``upstream``."""
    app = create_app(settings, runtime_override=runtime)
    if not any(route.path == EVALUATE for route in app.routes):
        for handler in keyservice_proxy.ROUTES:  # until http/routes.py includes them
            app.register(handler)
    if upstream is not None:
        transport = httpx.ASGITransport(app=upstream)
        client = httpx.AsyncClient(transport=transport, base_url="http://keyservice")
        setattr(app.state, keyservice_proxy.STATE_KEY, client)
    return app


async def test_sdk_through_the_api_proxy(
    settings: Settings, runtime: Runtime, ks_app: Litestar, make_principal: MakePrincipal
) -> None:
    app = api_app(settings, runtime, ks_app)
    member = await make_principal()
    bridge = LoopBridge(app, asyncio.get_running_loop())
    # The member's one explicit look-up of the key, through the proxy: the same key.
    key = await asyncio.to_thread(fetch_keyservice_public_key, "http://registry", transport=bridge)
    assert key == oprf.b64e(load_key(settings).public_key)
    with sdk(app, member, keyservice_public_key=key) as client:
        pseudonym = await asyncio.to_thread(client.pseudonymise, "phone", PHONE_SPELLINGS[1])
    assert pseudonym == expected_pseudonym(settings, "phone", "13812345678")
    await keyservice_proxy.close(app)


async def test_proxy_passes_problems_through_unchanged(
    settings: Settings, runtime: Runtime, ks_app: Litestar, make_principal: MakePrincipal
) -> None:
    app = api_app(settings, runtime, ks_app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://registry"
    ) as client:
        api = Api(client)
        assert_problem(await api.call(None, "POST", EVALUATE, blinded_body(1)), 401, "auth.missing")
        member = await make_principal()
        response = await api.call(member, "POST", EVALUATE, {"blinded": ["!"]})
        assert_problem(response, 400, "request.invalid_base64")
    await keyservice_proxy.close(app)


async def test_proxy_answers_503_when_the_key_service_is_down(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    # A loopback port this test holds bound but not listening: no other process
    # can listen there meanwhile, and every connection to it is refused.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        down = settings.with_overrides(keyservice_url=f"http://127.0.0.1:{port}")
        await _assert_unavailable(api_app(down, runtime, None), make_principal)


async def _assert_unavailable(app: Litestar, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    sleeps: list[float] = []
    client = sdk(app, member, sleep=sleeps.append, retry=RetryPolicy(attempts=3))
    with client, pytest.raises(RegistryApiError) as failed:
        await asyncio.to_thread(client.post, EVALUATE, blinded_body(1))
    assert (failed.value.status, failed.value.code) == (503, "keyservice.unavailable")
    assert failed.value.problem["status"] == 503
    # Idempotent by design, so retried, waiting what Retry-After said each time.
    assert sleeps == [keyservice_proxy.RETRY_AFTER] * 2
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://registry"
    ) as raw:
        response = await raw.get(PUBLIC_KEY)
        assert_problem(response, 503, "keyservice.unavailable")
        assert response.headers["retry-after"] == str(keyservice_proxy.RETRY_AFTER)
    await keyservice_proxy.close(app)


# -- bad input: every one a 4xx problem document ---------------------------------

ELEMENT = oprf.b64e(oprf.blind([b"x"])[1][0])


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"", 400, "request.invalid_body"),
        (b"not json", 400, "request.invalid_body"),
        (b"[]", 400, "request.invalid_body"),
        (b'"blinded"', 400, "request.invalid_body"),
        (b"null", 400, "request.invalid_body"),
        (b"{}", 400, "request.invalid_body"),
        (b'{"blinded": "abc"}', 400, "request.invalid_body"),
        (b'{"blinded": [1, 2]}', 400, "request.invalid_body"),
        (b'{"blinded": [null]}', 400, "request.invalid_body"),
        (b'{"blinded": {"0": "x"}}', 400, "request.invalid_body"),
        (b'{"blinded": ["%s"], "extra": 1}' % ELEMENT.encode(), 400, "request.invalid_body"),
        (b'{"blinded": []}', 422, "keyservice.invalid_batch"),
        (b'{"blinded": ["!!!!"]}', 400, "request.invalid_base64"),
        (b'{"blinded": ["%s="]}' % ELEMENT.encode(), 400, "request.invalid_base64"),
        (b'{"blinded": ["a+b/"]}', 400, "request.invalid_base64"),
    ],
    ids=lambda v: v.decode()[:30] if isinstance(v, bytes) else str(v),
)
async def test_malformed_bodies(
    ks: Api, make_principal: MakePrincipal, raw: bytes, status: int, code: str
) -> None:
    member = await make_principal()
    assert_problem(await ks.call(member, "POST", EVALUATE, raw=raw), status, code)


@pytest.mark.parametrize(
    ("element", "reason"),
    [
        (bytes(31), "length"),
        (bytes(33), "length"),
        (b"\xff" * 32, "encoding"),  # not a canonical field element
        (bytes(32), "encoding"),  # the identity element
    ],
    ids=["31-bytes", "33-bytes", "non-canonical", "identity"],
)
async def test_bad_elements_name_their_index(
    ks: Api, make_principal: MakePrincipal, runtime: Runtime, element: bytes, reason: str
) -> None:
    member = await make_principal()
    body = {"blinded": [ELEMENT, oprf.b64e(element)]}
    doc = assert_problem(
        await ks.call(member, "POST", EVALUATE, body), 422, "keyservice.invalid_element"
    )
    assert (doc["index"], doc["reason"]) == (1, reason)
    assert await usage_of(runtime, member) is None


async def test_batch_of_101_is_refused_and_100_accepted(
    ks: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    doc = assert_problem(
        await ks.call(member, "POST", EVALUATE, blinded_body(101)), 422, "keyservice.invalid_batch"
    )
    assert doc["count"] == 101
    response = await ks.call(member, "POST", EVALUATE, blinded_body(100))
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["evaluated"]) == 100
    assert len(oprf.b64d(body["proof"])) == oprf.PROOF_LEN
    assert response.headers["cache-control"] == "no-store"


async def test_unauthenticated_and_wrong_role_are_refused(
    ks: Api, make_principal: MakePrincipal
) -> None:
    assert_problem(await ks.call(None, "POST", EVALUATE, blinded_body(1)), 401, "auth.missing")
    garbage = {"Authorization": "Bearer not.a.token"}
    response = await ks.call(None, "POST", EVALUATE, blinded_body(1), headers=garbage)
    assert_problem(response, 401, "auth.malformed")
    admin = await make_principal("admin")
    response = await ks.call(admin, "POST", EVALUATE, blinded_body(1))
    assert_problem(response, 403, "auth.forbidden_role")


async def test_a_token_for_another_body_or_a_replay_is_refused(
    ks: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    body = msgspec.json.encode(blinded_body(1))
    headers = member.headers("POST", EVALUATE, body)
    other = msgspec.json.encode(blinded_body(2))
    response = await ks.call(None, "POST", EVALUATE, raw=other, headers=headers)
    assert_problem(response, 401)
    headers = member.headers("POST", EVALUATE, body)
    assert (await ks.call(None, "POST", EVALUATE, raw=body, headers=headers)).status_code == 200
    response = await ks.call(None, "POST", EVALUATE, raw=body, headers=headers)
    assert_problem(response, 401, "auth.replayed")


async def test_oversize_body_is_refused(ks: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    big = b'{"blinded": ["' + b"A" * 40_000 + b'"]}'
    assert_problem(await ks.call(member, "POST", EVALUATE, raw=big), 413, "request.too_large")


# -- rate limits, quotas, counting ------------------------------------------------


class FrozenClock:
    def __init__(self) -> None:
        self.at = float(int(dt.datetime.now(dt.UTC).timestamp()))

    def __call__(self) -> float:
        return self.at


async def test_rate_limit_then_daily_quota(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    app = keyservice_app(settings, runtime, Limits(per_second=100, per_day=250))
    clock = FrozenClock()  # one second lasts as long as the test needs
    service_of(app).limiter.clock = clock
    member, other = await make_principal(), await make_principal()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://keyservice"
    ) as client:
        api = Api(client)
        assert (await api.call(member, "POST", EVALUATE, blinded_body(100))).status_code == 200
        response = await api.call(member, "POST", EVALUATE, blinded_body(1))
        doc = assert_problem(response, 429, "rate.limited")
        assert response.headers["retry-after"] == "1"
        assert doc["retry_after"] == 1
        # Another member has its own budget.
        assert (await api.call(other, "POST", EVALUATE, blinded_body(100))).status_code == 200

        clock.at += 1
        assert (await api.call(member, "POST", EVALUATE, blinded_body(100))).status_code == 200
        clock.at += 1
        response = await api.call(member, "POST", EVALUATE, blinded_body(60))
        doc = assert_problem(response, 429, "rate.quota_exhausted")
        wait = int(response.headers["retry-after"])
        assert wait == DAY - int(clock.at) % DAY
        assert doc["limit"] == 250
        # The refused 60 were not charged: 50 still fit today.
        assert (await api.call(member, "POST", EVALUATE, blinded_body(50))).status_code == 200
    # Only what was evaluated is counted.
    assert await usage_of(runtime, member) == (3, 250)
    assert await usage_of(runtime, other) == (1, 100)


async def test_sdk_raises_a_typed_error_on_429_without_retrying(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    app = keyservice_app(settings, runtime, Limits(per_second=100, per_day=100))
    member = await make_principal()
    sleeps: list[float] = []
    with sdk(app, member, cache_size=0, sleep=sleeps.append) as client:
        await asyncio.to_thread(client.pseudonymise, "phone", PHONE_SPELLINGS[0])
        pairs = [("device_id", f"d{i}") for i in range(100)]
        with pytest.raises(RegistryApiError) as refused:
            await asyncio.to_thread(client.pseudonymise_many, pairs)
    assert refused.value.status == 429
    assert refused.value.code == "rate.quota_exhausted"
    assert refused.value.problem["limit"] == 100
    assert sleeps == []


async def test_key_service_needs_room_for_a_full_batch(
    settings: Settings, runtime: Runtime
) -> None:
    with pytest.raises(ValueError, match="at least 100"):
        keyservice_app(settings, runtime, Limits(per_second=99, per_day=1000))


async def test_without_redis_limits_still_hold(
    settings: Settings, make_principal: MakePrincipal, tmp_path: Path
) -> None:
    dead = settings.with_overrides(redis_url=f"unix://{tmp_path}/nobody-home.sock")
    rt = await Runtime.start(dead)
    try:
        app = keyservice_app(dead, rt, Limits(per_second=100, per_day=150))
        member = await make_principal()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://keyservice"
        ) as client:
            api = Api(client)
            response = await api.call(member, "POST", EVALUATE, blinded_body(100))
            assert response.status_code == 200, response.text
            response = await api.call(member, "POST", EVALUATE, blinded_body(100))
            assert_problem(response, 429)
        assert service_of(app).limiter.breaker.degraded
        assert await usage_of(rt, member) == (1, 100)
    finally:
        await rt.close()


async def test_postgres_down_answers_503_and_nothing_uncounted(
    settings: Settings, make_principal: MakePrincipal
) -> None:
    rt = await Runtime.start(settings)
    app = keyservice_app(settings, rt)
    member = await make_principal()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://keyservice"
    ) as client:
        api = Api(client)
        # The first call caches the member's key, so the second authenticates
        # without PostgreSQL and fails only where the count is written.
        assert (await api.call(member, "POST", EVALUATE, blinded_body(1))).status_code == 200
        await rt.pool.close()
        response = await api.call(member, "POST", EVALUATE, blinded_body(1))
        assert_problem(response, 503, "db.unavailable")
        assert response.headers["retry-after"]
        assert "evaluated" not in response.json()
    await rt.close()


# -- the SDK's transport behaviour -------------------------------------------------


def test_unreachable_registry_is_retried_for_idempotent_calls_only() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    signer = Signer("mbr_x", "kid_x", ed25519.Ed25519PrivateKey.generate())
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
    with RegistryClient("http://127.0.0.1:1", signer, retry=policy, sleep=sleeps.append) as rr:
        with pytest.raises(RegistryApiError) as failed:
            rr.post(EVALUATE, {"blinded": [ELEMENT]})
        assert (failed.value.status, failed.value.code) == (0, "client.unreachable")
        assert len(sleeps) == 2
        assert all(0 < s <= 0.05 for s in sleeps)
        sleeps.clear()
        with pytest.raises(RegistryApiError):
            rr.post("/v1/appeals", {"report_id": "r"})
        assert sleeps == []  # not idempotent: sent once


async def test_usage_counts_only_grow(runtime: Runtime, make_principal: MakePrincipal) -> None:
    """The application role can add to a member's count but never lower or delete it."""
    member = await make_principal()
    now = dt.datetime.now(dt.UTC)
    await usage_counts.count_usage(
        runtime.pool, member_id=member.principal_id, at=now, evaluations=7
    )
    row = await usage_counts.count_usage(
        runtime.pool, member_id=member.principal_id, at=now, evaluations=3
    )
    assert row == (2, 10)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.pool.execute(
            "UPDATE keyservice_usage SET evaluations = 0 WHERE member_id = $1",
            member.principal_id,
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await runtime.pool.execute(
            "DELETE FROM keyservice_usage WHERE member_id = $1", member.principal_id
        )
    assert await usage_of(runtime, member) == (2, 10)
