"""The in-process limiter: the windows, the refusals, and a naive cross-check."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.errors import RateLimited
from refund_registry.storage.cache import RedisBreaker
from refund_registry.storage.ratelimit import (
    DAY,
    LIMITED,
    QUOTA_EXHAUSTED,
    Limits,
    MemoryLimiter,
    RateLimiter,
    Usage,
)

T0 = 1_750_000_000.0  # some instant well inside a UTC day
NOON = (T0 // DAY) * DAY + DAY / 2


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Limits(per_second=0, per_day=10)
    with pytest.raises(ValueError, match="at least 1"):
        Limits(per_second=10, per_day=0)


def test_per_second_window_refuses_then_reopens_next_second() -> None:
    limiter = MemoryLimiter(Limits(per_second=3, per_day=100))
    assert limiter.take("m", 2, NOON).second == 2
    assert limiter.take("m", 1, NOON + 0.5).second == 3
    with pytest.raises(RateLimited) as refused:
        limiter.take("m", 1, NOON + 0.9)
    assert refused.value.code == LIMITED
    assert refused.value.retry_after == 1
    assert refused.value.extra["limit"] == 3
    assert limiter.take("m", 3, NOON + 1.0) == Usage(second=3, day=6, source="memory")


def test_daily_quota_refuses_until_midnight_utc() -> None:
    limiter = MemoryLimiter(Limits(per_second=10, per_day=5))
    limiter.take("m", 5, NOON)
    with pytest.raises(RateLimited) as refused:
        limiter.take("m", 1, NOON + 5)
    assert refused.value.code == QUOTA_EXHAUSTED
    # Half a day and five seconds past noon is midnight.
    assert refused.value.retry_after == DAY // 2 - 5
    assert refused.value.extra["limit"] == 5
    assert limiter.take("m", 1, NOON + DAY / 2).day == 1


def test_quota_is_reported_before_the_per_second_limit() -> None:
    limiter = MemoryLimiter(Limits(per_second=2, per_day=2))
    limiter.take("m", 2, NOON)
    with pytest.raises(RateLimited) as refused:
        limiter.take("m", 1, NOON)
    assert refused.value.code == QUOTA_EXHAUSTED


def test_a_refused_hit_spends_nothing() -> None:
    limiter = MemoryLimiter(Limits(per_second=5, per_day=100))
    limiter.take("m", 4, NOON)
    with pytest.raises(RateLimited):
        limiter.take("m", 2, NOON)
    # The refused 2 units were not charged: exactly 1 more fits.
    assert limiter.take("m", 1, NOON).second == 5
    assert limiter.take("m", 1, NOON + 1).day == 6


def test_subjects_are_counted_apart() -> None:
    limiter = MemoryLimiter(Limits(per_second=1, per_day=1))
    limiter.take("alice", 1, NOON)
    assert limiter.take("bob", 1, NOON).day == 1
    with pytest.raises(RateLimited):
        limiter.take("alice", 1, NOON + 2)


def test_observe_carries_the_redis_day_count_into_the_fallback() -> None:
    limiter = MemoryLimiter(Limits(per_second=10, per_day=10))
    limiter.observe("m", Usage(second=1, day=9, source="redis"), NOON)
    assert limiter.take("m", 1, NOON + 1).day == 10
    with pytest.raises(RateLimited) as refused:
        limiter.take("m", 1, NOON + 2)
    assert refused.value.code == QUOTA_EXHAUSTED


def test_yesterdays_counters_are_swept() -> None:
    limiter = MemoryLimiter(Limits(per_second=10, per_day=10))
    for n in range(50):
        limiter.take(f"m{n}", 1, NOON)
    limiter.take("today", 1, NOON + DAY)
    assert set(limiter._windows) == {"today"}


async def test_without_redis_the_limiter_runs_in_memory() -> None:
    now = [NOON]
    limiter = RateLimiter(
        None, RedisBreaker(), namespace="t", per_second=2, per_day=3, clock=lambda: now[0]
    )
    assert (await limiter.acquire("m", 2)).source == "memory"
    with pytest.raises(RateLimited):
        await limiter.acquire("m")
    now[0] += 1
    await limiter.acquire("m")
    with pytest.raises(RateLimited) as refused:
        await limiter.acquire("m")
    assert refused.value.code == QUOTA_EXHAUSTED


async def test_a_hit_larger_than_the_per_second_limit_is_a_programming_error() -> None:
    limiter = RateLimiter(None, RedisBreaker(), namespace="t", per_second=2, per_day=10)
    with pytest.raises(ValueError, match="units"):
        await limiter.acquire("m", 3)
    with pytest.raises(ValueError, match="units"):
        await limiter.acquire("m", 0)


def test_keys_share_a_cluster_slot_and_name_their_windows() -> None:
    limiter = RateLimiter(None, RedisBreaker(), namespace="rr:rl:x", per_second=1, per_day=1)
    second, day = limiter.keys("mbr_1", NOON + 0.7)
    assert second == f"rr:rl:x:{{mbr_1}}:s:{int(NOON)}"
    assert day == f"rr:rl:x:{{mbr_1}}:d:{int(NOON) // DAY}"


# A naive reference: every allowed hit logged with its instant; a hit is allowed
# iff the units already allowed in its second and in its day leave room.
hits = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(min_value=1, max_value=4),
        st.floats(min_value=0, max_value=DAY, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(hits=hits, per_second=st.integers(4, 8), per_day=st.integers(4, 30))
def test_memory_limiter_matches_a_naive_log(
    hits: list[tuple[str, int, float]], per_second: int, per_day: int
) -> None:
    limiter = MemoryLimiter(Limits(per_second=per_second, per_day=per_day))
    by_second: Counter[tuple[str, int]] = Counter()
    by_day: Counter[tuple[str, int]] = Counter()
    now = NOON - DAY / 4
    for subject, units, step in sorted(hits, key=lambda h: h[2]):
        at = now + step
        second, day = int(at), int(at) // DAY
        allowed = (
            by_day[subject, day] + units <= per_day
            and by_second[subject, second] + units <= per_second
        )
        try:
            limiter.take(subject, units, at)
        except RateLimited:
            assert not allowed
        else:
            assert allowed
            by_second[subject, second] += units
            by_day[subject, day] += units
