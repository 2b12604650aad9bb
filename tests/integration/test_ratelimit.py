"""The Redis limiter against a real Valkey, and its fallback when Redis is gone."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from refund_registry.errors import RateLimited
from refund_registry.storage.cache import RedisBreaker, create_redis
from refund_registry.storage.ratelimit import (
    DAY,
    LIMITED,
    QUOTA_EXHAUSTED,
    Limits,
    MemoryLimiter,
    RateLimiter,
    Usage,
)

NOON = 20_255 * DAY + DAY / 2  # 2025-06-16 12:00 UTC


class Clock:
    def __init__(self, at: float = NOON) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = create_redis(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def limiter(
    redis: aioredis.Redis | None,
    clock: Clock,
    *,
    per_second: int = 5,
    per_day: int = 20,
    breaker: RedisBreaker | None = None,
) -> RateLimiter:
    return RateLimiter(
        redis,
        breaker or RedisBreaker(),
        namespace="rr:rl:test",
        per_second=per_second,
        per_day=per_day,
        clock=clock,
    )


async def test_counts_live_in_redis_and_are_shared_between_processes(
    redis: aioredis.Redis,
) -> None:
    clock = Clock()
    # Two limiters stand for two API processes: they share one budget.
    first, second = limiter(redis, clock), limiter(redis, clock)
    usage = await first.acquire("mbr_a", 3)
    assert (usage.second, usage.day, usage.source) == (3, 3, "redis")
    assert (await second.acquire("mbr_a", 2)).second == 5
    with pytest.raises(RateLimited) as refused:
        await first.acquire("mbr_a", 1)
    assert refused.value.code == LIMITED
    assert refused.value.retry_after == 1
    second_key, day_key = first.keys("mbr_a", clock.at)
    assert int(await redis.get(second_key)) == 5
    assert int(await redis.get(day_key)) == 5
    # Counters expire on their own: no sweeper needed.
    assert 0 < await redis.ttl(second_key) <= 2
    assert DAY / 2 < await redis.ttl(day_key) <= DAY / 2 + 60


async def test_the_next_second_reopens_and_the_quota_holds_until_midnight(
    redis: aioredis.Redis,
) -> None:
    clock = Clock()
    rl = limiter(redis, clock, per_second=5, per_day=8)
    await rl.acquire("mbr_b", 5)
    clock.at += 1
    await rl.acquire("mbr_b", 3)
    clock.at += 1
    with pytest.raises(RateLimited) as refused:
        await rl.acquire("mbr_b", 1)
    assert refused.value.code == QUOTA_EXHAUSTED
    assert refused.value.retry_after == DAY / 2 - 2
    clock.at = NOON + DAY / 2  # midnight UTC
    assert (await rl.acquire("mbr_b", 1)).day == 1


async def test_a_refused_hit_increments_nothing(redis: aioredis.Redis) -> None:
    clock = Clock()
    rl = limiter(redis, clock, per_second=5, per_day=100)
    await rl.acquire("mbr_c", 4)
    for _ in range(3):
        with pytest.raises(RateLimited):
            await rl.acquire("mbr_c", 2)
    second_key, day_key = rl.keys("mbr_c", clock.at)
    assert int(await redis.get(second_key)) == 4
    assert int(await redis.get(day_key)) == 4


async def test_concurrent_hits_never_exceed_the_limit(redis: aioredis.Redis) -> None:
    clock = Clock()
    rl = limiter(redis, clock, per_second=20, per_day=1000)
    results = await asyncio.gather(
        *(rl.acquire("mbr_d") for _ in range(60)), return_exceptions=True
    )
    allowed = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(allowed) == 20
    assert len(refused) == 40
    assert sorted(u.second for u in allowed) == list(range(1, 21))


async def test_dead_redis_falls_back_to_memory_and_still_limits(tmp_path: Path) -> None:
    # A unix socket nobody listens on: every Redis call fails at once.
    dead = create_redis(f"unix://{tmp_path}/nobody-home.sock")
    breaker = RedisBreaker()
    clock = Clock()
    rl = limiter(dead, clock, per_second=3, per_day=4, breaker=breaker)
    try:
        usage = await rl.acquire("mbr_e", 3)
        assert usage.source == "memory"
        assert breaker.open
        assert breaker.degraded
        with pytest.raises(RateLimited) as refused:
            await rl.acquire("mbr_e", 1)
        assert refused.value.code == LIMITED
        clock.at += 1
        await rl.acquire("mbr_e", 1)
        with pytest.raises(RateLimited) as refused:
            await rl.acquire("mbr_e", 1)
        assert refused.value.code == QUOTA_EXHAUSTED
    finally:
        await dead.aclose()


async def test_an_outage_starts_from_the_day_count_redis_last_reported(
    redis: aioredis.Redis,
) -> None:
    clock = Clock()
    breaker = RedisBreaker(cooldown=60)
    rl = limiter(redis, clock, per_second=10, per_day=10, breaker=breaker)
    await rl.acquire("mbr_f", 8)
    breaker.failed(ConnectionError("Redis went away"))  # what the next failing call records
    usage = await rl.acquire("mbr_f", 2)
    assert (usage.source, usage.day) == ("memory", 10)
    with pytest.raises(RateLimited) as refused:
        await rl.acquire("mbr_f", 1)
    assert refused.value.code == QUOTA_EXHAUSTED


async def test_redis_is_used_again_once_it_answers(redis: aioredis.Redis) -> None:
    clock = Clock()
    breaker = RedisBreaker(cooldown=0.0)
    rl = limiter(redis, clock, breaker=breaker)
    breaker.failed(ConnectionError("blip"))
    usage = await rl.acquire("mbr_g")
    assert usage.source == "redis"
    assert not breaker.degraded


async def test_the_hits_of_one_tick_are_one_call_decided_as_one_by_one(
    redis: aioredis.Redis,
) -> None:
    # The model: the same hits, one after another, in the in-process limiter.
    shuffle = random.Random(20_251_130)
    clock = Clock()
    for case in range(40):
        per_second, per_day = shuffle.randint(1, 12), shuffle.randint(1, 40)
        units = [shuffle.randint(1, per_second) for _ in range(shuffle.randint(1, 30))]
        rl = limiter(redis, clock, per_second=per_second, per_day=per_day)
        model = MemoryLimiter(Limits(per_second, per_day))
        subject = f"mbr_tick_{case}"
        calls = rl._hits.calls if rl._hits is not None else 0
        results = await asyncio.gather(
            *(rl.acquire(subject, u) for u in units), return_exceptions=True
        )
        assert rl._hits is not None
        assert rl._hits.calls == calls + 1
        for u, got in zip(units, results, strict=True):
            try:
                expected: Usage | RateLimited = model.take(subject, u, clock.at)
            except RateLimited as exc:
                expected = exc
            if isinstance(expected, RateLimited):
                assert isinstance(got, RateLimited)
                assert got.code == expected.code
            else:
                assert isinstance(got, Usage)
                assert (got.second, got.day) == (expected.second, expected.day)
        second_key, day_key = rl.keys(subject, clock.at)
        spent = sum(u for u, r in zip(units, results, strict=True) if isinstance(r, Usage))
        assert int(await redis.get(second_key) or 0) == spent
        assert int(await redis.get(day_key) or 0) == spent


async def test_a_redis_that_lost_the_script_gets_it_again(redis: aioredis.Redis) -> None:
    clock = Clock()
    rl = limiter(redis, clock, per_second=5, per_day=100)
    await rl.acquire("mbr_noscript", 2)
    await redis.script_flush()
    usage = await rl.acquire("mbr_noscript", 2)
    assert (usage.second, usage.day, usage.source) == (4, 4, "redis")
