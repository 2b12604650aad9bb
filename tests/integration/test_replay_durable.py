"""Replay protection across a Redis outage and a Redis restart (real Valkey and PostgreSQL).

While Redis is unreachable, ``REGISTRY_JTI_FALLBACK=database`` records each
token in ``used_jtis``, shared by every API process; an emptied Redis refuses
tokens issued before its replay store epoch (``auth.replay_window``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from refund_registry.services.duties import Duties
from refund_registry.storage.cache import EPOCH_GRACE, EPOCH_KEY, RedisBreaker, ReplayGuard
from tests.support.api import assert_problem, serving
from tests.support.principals import MakePrincipal
from tests.support.tokens import WHOAMI, token


@pytest.fixture
def dead_redis_settings(settings: Settings, tmp_path: Path) -> Settings:
    # A unix socket nobody listens on: every Redis call fails at once.
    return settings.with_overrides(
        redis_url=f"unix://{tmp_path}/nobody-home.sock", jti_fallback="database"
    )


def whoami(signed: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed}"}


async def test_outage_one_token_once_across_two_processes(
    dead_redis_settings: Settings, settings: Settings, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    signed = token(member)
    async with serving(dead_redis_settings) as first, serving(dead_redis_settings) as second:
        assert (await first.get(WHOAMI, headers=whoami(signed))).status_code == 200
        assert_problem(await second.get(WHOAMI, headers=whoami(signed)), 401, "auth.replayed")
        assert_problem(await first.get(WHOAMI, headers=whoami(signed)), 401, "auth.replayed")
        # A fresh token is accepted by either.
        assert (await second.get(WHOAMI, headers=whoami(token(member)))).status_code == 200
        ready = await first.get("/health/ready")
        assert ready.json()["status"] == "degraded"
    conn = await asyncpg.connect(settings.owner_database_url)
    try:
        keys = {r["key"] for r in await conn.fetch("SELECT key FROM used_jtis")}
    finally:
        await conn.close()
    assert len(keys) == 2
    assert all(k.startswith(member.principal_id + ":") for k in keys)


async def test_memory_fallback_accepts_once_per_process(
    dead_redis_settings: Settings, make_principal: MakePrincipal
) -> None:
    """The zero-setup policy, for contrast: each process keeps its own record."""
    memory = dead_redis_settings.with_overrides(jti_fallback="memory")
    member = await make_principal()
    signed = token(member)
    async with serving(memory) as first, serving(memory) as second:
        assert (await first.get(WHOAMI, headers=whoami(signed))).status_code == 200
        assert (await second.get(WHOAMI, headers=whoami(signed))).status_code == 200
        assert_problem(await first.get(WHOAMI, headers=whoami(signed)), 401, "auth.replayed")


async def test_token_used_before_a_flush_is_refused_after(
    settings: Settings, make_principal: MakePrincipal
) -> None:
    redis = aioredis.Redis.from_url(settings.redis_url)
    now = int(time.time())
    try:
        # A store that has been running for a while.
        await redis.set(EPOCH_KEY, str(now - 300))
        member = await make_principal()
        signed = token(member, iat=now - 5, exp=now + 55)
        async with serving(settings) as client:
            assert (await client.get(WHOAMI, headers=whoami(signed))).status_code == 200
            assert_problem(await client.get(WHOAMI, headers=whoami(signed)), 401, "auth.replayed")

            await redis.flushall()  # a restart without persistence: every record gone

            doc = assert_problem(
                await client.get(WHOAMI, headers=whoami(signed)), 401, "auth.replay_window"
            )
            assert doc["detail"].endswith("请签发新令牌")  # in the default language
            epoch = int(await redis.get(EPOCH_KEY) or b"0")
            assert now - EPOCH_GRACE <= epoch <= int(time.time()) - EPOCH_GRACE
            # The client signs a fresh token: accepted once.
            fresh = token(member)
            assert (await client.get(WHOAMI, headers=whoami(fresh))).status_code == 200
            assert_problem(await client.get(WHOAMI, headers=whoami(fresh)), 401, "auth.replayed")
    finally:
        await redis.aclose()


async def test_epoch_is_set_once_and_kept(runtime: Runtime) -> None:
    redis = aioredis.Redis.from_url(runtime.settings.redis_url)
    try:
        await redis.flushall()  # an empty store, as after a restart
        now = int(time.time())
        assert await runtime.replay.claim("iss:a", 60, now)
        epoch = await redis.get(EPOCH_KEY)
        assert epoch is not None
        assert now - EPOCH_GRACE <= int(epoch) <= now + 1 - EPOCH_GRACE
        await redis.set(EPOCH_KEY, str(now - 100))
        assert await runtime.replay.claim("iss:b", 60, now)
        assert int(await redis.get(EPOCH_KEY) or b"0") == now - 100
    finally:
        await redis.aclose()


async def test_the_claims_of_one_tick_are_one_script_call(runtime: Runtime) -> None:
    guard = runtime.replay
    assert guard.claims is not None  # one server: claims go through the script
    redis = aioredis.Redis.from_url(runtime.settings.redis_url)
    try:
        await redis.script_flush()  # the store lost its scripts, as after a restart
        now = int(time.time())
        calls = guard.claims.calls
        keys = ["iss:t1", "iss:t2", "iss:t1", "iss:t3", "iss:t2"]
        claimed = await asyncio.gather(*(guard.claim(k, 60, now) for k in keys))
        assert claimed == [True, True, False, True, False]
        assert guard.claims.calls == calls + 1
        assert await redis.ttl(guard.key("iss:t3")) > 50
        assert not await guard.claim("iss:t3", 60, now)
    finally:
        await redis.aclose()


async def test_tokens_of_an_outage_are_not_replayable_once_redis_is_back(
    runtime: Runtime,
) -> None:
    """A process that fell back raises the epoch when Redis answers again."""
    moment = [0.0]
    breaker = RedisBreaker(cooldown=1.0, clock=lambda: moment[0])
    guard = ReplayGuard(
        runtime.redis,
        breaker,
        fallback="database",
        batcher=runtime.replay.batcher,
        pool=runtime.pool,
    )
    now = int(time.time())
    breaker.failed(ConnectionError("down"))  # Redis presumed down for a second
    assert await guard.claim("mbr_x:outage", 60, now - 1)
    assert not await guard.claim("mbr_x:outage", 60, now - 1)
    moment[0] = 2.0  # the breaker lets the next call through; Redis answers
    from refund_registry.errors import AuthenticationFailed

    with pytest.raises(AuthenticationFailed) as caught:
        await guard.claim("mbr_x:outage", 60, now - 1)
    assert caught.value.code == "auth.replay_window"
    assert not breaker.degraded
    # Tokens issued from now on go through Redis as usual, once each.
    later = int(time.time()) + 1
    assert await guard.claim("mbr_x:after", 60, later)
    assert not await guard.claim("mbr_x:after", 60, later)


async def test_a_token_of_the_second_redis_came_back_is_not_replayable(runtime: Runtime) -> None:
    """Recorded in the fallback and replayed through Redis within the same second: refused."""
    moment = [0.0]
    breaker = RedisBreaker(cooldown=1.0, clock=lambda: moment[0])
    guard = ReplayGuard(
        runtime.redis,
        breaker,
        fallback="database",
        batcher=runtime.replay.batcher,
        pool=runtime.pool,
    )
    issued = int(time.time())
    breaker.failed(ConnectionError("down"))
    assert await guard.claim("mbr_x:same-second", 60, issued)
    moment[0] = 2.0
    from refund_registry.errors import AuthenticationFailed

    # Issued no later than the second Redis answered again.
    with pytest.raises(AuthenticationFailed) as caught:
        await guard.claim("mbr_x:same-second", 60, issued)
    assert caught.value.code == "auth.replay_window"


async def test_database_claims_of_one_tick_share_one_statement(runtime: Runtime) -> None:
    guard = ReplayGuard(None, RedisBreaker(), fallback="database", pool=runtime.pool)
    assert guard.database is not None
    keys = [f"mbr_y:{i}" for i in range(20)] + ["mbr_y:3"]
    results = await asyncio.gather(*(guard.claim(k, 60) for k in keys))
    assert guard.database.statements == 1
    assert results == [True] * 20 + [False]
    again = await asyncio.gather(*(guard.claim(k, 60) for k in keys[:5]))
    assert again == [False] * 5
    assert guard.database.statements == 2


async def test_the_duty_deletes_expired_rows(settings: Settings, runtime: Runtime) -> None:
    now = datetime.now(UTC)
    conn = await asyncpg.connect(settings.owner_database_url)
    try:
        await conn.executemany(
            "INSERT INTO used_jtis (key, expires_at) VALUES ($1, $2)",
            [
                ("mbr_z:old", now - timedelta(minutes=5)),
                ("mbr_z:just_expired", now - timedelta(seconds=1)),
                ("mbr_z:live", now + timedelta(seconds=90)),
            ],
        )
        duties = Duties(runtime.pool, runtime.ledger, runtime.parts.appeals, runtime.parts.webhooks)
        done = await duties.run_pass(now)
        assert done["used_jtis_pruned"] == 2
        left = [r["key"] for r in await conn.fetch("SELECT key FROM used_jtis")]
        assert left == ["mbr_z:live"]
    finally:
        await conn.close()


def test_production_defaults_to_the_database_fallback() -> None:
    env = {
        "REGISTRY_ENVIRONMENT": "production",
        "DATABASE_URL": "postgresql://db/registry",
        "REDIS_URL": "redis://cache",
        "REGISTRY_LOG_KEY_FILE": "/keys/log.key",
        "REGISTRY_REGISTRY_KEY_FILE": "/keys/registry.key",
        "REGISTRY_WEBHOOK_KEY_FILE": "/keys/webhook.key",
        "REGISTRY_SMTP_URL": "smtp://mail",
        "REGISTRY_SMTP_FROM": "Registry <r@example.com>",
        "REGISTRY_SMS_GATEWAY_URL": "https://sms.example.com",
        "REGISTRY_SMS_GATEWAY_SECRET": "s3cret",
        "REGISTRY_BUYER_CODE_KEY_FILE": "/keys/code.key",
        "REGISTRY_PORTAL_PRINCIPAL": "por_1",
        "REGISTRY_PORTAL_KID": "k1",
        "REGISTRY_PORTAL_KEY_FILE": "/keys/portal.key",
        "REGISTRY_KEYSERVICE_PUBLIC_KEY": "abc",
        "REGISTRY_PUBLIC_URL": "https://registry.example",
    }
    production = Settings.from_env(env)
    assert production.jti_fallback == "database"
    assert "jti_fallback" not in production.given
    chosen = Settings.from_env({**env, "REGISTRY_JTI_FALLBACK": "refuse"})
    assert chosen.jti_fallback == "refuse"
    assert Settings.from_env({}).jti_fallback == "memory"
    assert Settings.from_env({"REGISTRY_JTI_FALLBACK": "database"}).jti_fallback == "database"
