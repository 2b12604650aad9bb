"""Per-subject rate limits and daily quotas, in Redis with an in-process fallback.

Two fixed windows per subject (a member id, usually): the current second
(``per_second``) and the current UTC day (``per_day``). Both count *units*, so
a caller decides what one unit is: the key service charges one unit per
blinded element, because each element is one guess at an identifier and the
daily quota is what bounds brute force.

A refused hit consumes nothing: a client that keeps retrying while throttled
does not burn its daily quota on refusals.

Redis: one Lua script checks both windows and increments both, atomically, in
one round trip (EVALSHA); the hits on one subject's windows during one
event-loop tick go to it together, in arrival order, in one call. Both keys
carry the subject in a hash tag, so the script also works on a Valkey
Cluster: both keys live in the subject's slot.
A Redis that lost the script (restarted, or a replica promoted in a cluster)
answers ``NOSCRIPT``; the limiter then loads it (on a cluster: on every
primary) and runs it again.

Failure policy: when Redis is unreachable (or the shared
:class:`~refund_registry.storage.cache.RedisBreaker` says it was a moment ago)
the same windows are kept in this process's memory. Limits stay enforced, with
two stated losses for the length of the outage:

* each process counts alone, so with N processes a subject may get up to N
  times the per-second rate;
* the daily count starts from the last value this process saw in Redis for
  that subject (0 if it never saw one), and units spent during the outage are
  not written back to Redis afterwards.

Fixed windows allow up to twice the per-second rate across a window boundary;
that is the usual trade for one counter per window instead of a log of hits.

The enumeration budgets (key-service evaluations, risk-query lookups) use this
limiter keyed by organisation as their fast path only: ``services/quotas.py``
also charges every request to the organisation's durable day count in
PostgreSQL, so their daily quotas lose nothing when Redis does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from refund_registry.errors import RateLimited
from refund_registry.storage.cache import RedisBreaker
from refund_registry.storage.redis_batch import RedisBatcher, ScriptGroups
from refund_registry.storage.redis_client import UNAVAILABLE, RedisClient, hash_tag

DAY: Final = 86_400
LIMITED: Final = "rate.limited"
QUOTA_EXHAUSTED: Final = "rate.quota_exhausted"

# KEYS[1] = the second's counter, KEYS[2] = the day's counter.
# ARGV = per_second, per_day, day key TTL, then the units of each hit, in
# arrival order (the hits of one event-loop tick, storage/redis_batch.py).
# Returns "status second day" per hit (space-separated integers), as if each hit were its
# own call: status 0 allowed (counted), 1 per-second limit reached, 2 daily
# quota exhausted (a refused hit counts nothing). The quota is checked
# first: when both are exhausted the long wait is the truthful answer.
_SCRIPT: Final = """
local sec = tonumber(redis.call('GET', KEYS[1]) or '0')
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
local per_second, per_day = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, added = {}, 0
for i = 4, #ARGV do
  local units = tonumber(ARGV[i])
  local status = 0
  if day + units > per_day then
    status = 2
  elseif sec + units > per_second then
    status = 1
  else
    sec, day, added = sec + units, day + units, added + units
  end
  out[#out + 1] = status
  out[#out + 1] = sec
  out[#out + 1] = day
end
if added > 0 then
  redis.call('INCRBY', KEYS[1], added)
  redis.call('EXPIRE', KEYS[1], 2)
  redis.call('INCRBY', KEYS[2], added)
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
end
return table.concat(out, ' ')
"""


@dataclass(frozen=True, slots=True)
class Limits:
    """How many units a subject may spend per second and per UTC day."""

    per_second: int
    per_day: int

    def __post_init__(self) -> None:
        if self.per_second < 1 or self.per_day < 1:
            raise ValueError("rate limits must be at least 1")


@dataclass(frozen=True, slots=True)
class Usage:
    """What the subject has spent in the current windows, this hit included."""

    second: int
    day: int
    source: str  # "redis" or "memory": which counter decided


def quota_refusal(per_day: int, now: float) -> RateLimited:
    """The 429 of an exhausted daily quota; it resets at the next UTC midnight."""
    wait = DAY - int(now) % DAY
    exc = RateLimited(
        f"daily quota of {per_day} exhausted; it resets at 00:00 UTC",
        retry_after=max(wait, 1),
        code=QUOTA_EXHAUSTED,
    )
    exc.extra["limit"] = per_day
    return exc


def _refusal(status: int, limits: Limits, now: float) -> RateLimited:
    if status == 2:
        return quota_refusal(limits.per_day, now)
    exc = RateLimited(
        f"rate limit of {limits.per_second} per second reached; slow down",
        retry_after=1,
        code=LIMITED,
    )
    exc.extra["limit"] = limits.per_second
    return exc


class MemoryLimiter:
    """The same two fixed windows, in this process only (the Redis-down fallback).

    Synchronous on purpose: with no ``await`` inside :meth:`take`, a check and
    its increment cannot interleave with another coroutine's.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # subject -> [second, used this second, day, used this day]
        self._windows: dict[str, list[int]] = {}
        self._swept_day = -1

    def _window(self, subject: str, now: float) -> list[int]:
        second, day = int(now), int(now) // DAY
        if day != self._swept_day:
            # Yesterday's counters are dead weight; memory stays bounded by the
            # number of subjects seen in one day.
            self._windows = {k: w for k, w in self._windows.items() if w[2] == day}
            self._swept_day = day
        window = self._windows.setdefault(subject, [second, 0, day, 0])
        if window[0] != second:
            window[0], window[1] = second, 0
        if window[2] != day:
            window[2], window[3] = day, 0
        return window

    def take(self, subject: str, units: int, now: float, limits: Limits | None = None) -> Usage:
        """Spend ``units`` or raise :class:`RateLimited` without spending anything.

        ``limits`` overrides this limiter's own for one subject (an
        organisation's own quota).
        """
        limits = limits or self.limits
        window = self._window(subject, now)
        if window[3] + units > limits.per_day:
            raise _refusal(2, limits, now)
        if window[1] + units > limits.per_second:
            raise _refusal(1, limits, now)
        window[1] += units
        window[3] += units
        return Usage(second=window[1], day=window[3], source="memory")

    def observe(self, subject: str, usage: Usage, now: float) -> None:
        """Mirror what Redis reported, so that a fallback starts from the real day count."""
        window = self._window(subject, now)
        window[3] = max(window[3], usage.day)


class RateLimiter:
    """Per-subject limits shared by every process through Redis.

    ``namespace`` separates users of the limiter (``rr:rl:keyservice``,
    ``rr:rl:risk``, ...) so their counters never mix. ``breaker`` should be the
    process's shared breaker, so that one notion of "Redis is down" governs
    every fallback.
    """

    def __init__(
        self,
        redis: RedisClient | None,
        breaker: RedisBreaker,
        *,
        namespace: str,
        per_second: int,
        per_day: int,
        clock: Callable[[], float] = time.time,
        batcher: RedisBatcher | None = None,
    ) -> None:
        self.redis = redis
        self.batcher = batcher
        self.breaker = breaker
        self.namespace = namespace
        self.limits = Limits(per_second, per_day)
        self.clock = clock
        self.memory = MemoryLimiter(self.limits)
        # The hits of one tick on the same windows are one script call.
        self._hits = (
            ScriptGroups(redis, batcher or RedisBatcher(redis), _SCRIPT, head=0, width=3)
            if redis is not None
            else None
        )

    def keys(self, subject: str, now: float) -> tuple[str, str]:
        """The Redis keys of ``subject``'s current windows (same cluster slot)."""
        base = f"{self.namespace}:{hash_tag(subject)}"
        return f"{base}:s:{int(now)}", f"{base}:d:{int(now) // DAY}"

    async def acquire(self, subject: str, units: int = 1, *, per_day: int | None = None) -> Usage:
        """Spend ``units`` for ``subject`` or raise :class:`RateLimited` (spending nothing).

        ``per_day`` replaces the limiter's daily quota for this subject (an
        organisation with a quota of its own). Precondition:
        ``1 <= units <= per_second``. A larger hit could never be allowed, so
        it is a configuration error of the caller (the key service checks at
        start-up that a full batch fits), not a 429.
        """
        if not 1 <= units <= self.limits.per_second:
            raise ValueError(f"units must be between 1 and per_second, got {units}")
        limits = self.limits if per_day is None else Limits(self.limits.per_second, per_day)
        now = self.clock()
        if self._hits is None or self.breaker.open:
            return self.memory.take(subject, units, now, limits)
        second_key, day_key = self.keys(subject, now)
        # The day key lives until its day is over (plus a minute of clock skew
        # between processes), so no sweeper is needed.
        day_ttl = DAY - int(now) % DAY + 60
        try:
            _, (status, second, day) = await self._hits.call(
                [second_key, day_key], [limits.per_second, limits.per_day, day_ttl], (), [units]
            )
        except UNAVAILABLE as exc:
            self.breaker.failed(exc)
            return self.memory.take(subject, units, now, limits)
        self.breaker.succeeded()
        usage = Usage(second=int(second), day=int(day), source="redis")
        self.memory.observe(subject, usage, now)
        if int(status) != 0:
            raise _refusal(int(status), limits, now)
        return usage
