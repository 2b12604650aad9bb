"""Redis (Valkey) access: the replay guard, with its stated failure policy.

Every Redis dependency here says what happens when Redis is gone:

* replay guard (``jti`` single use) — falls back to an in-process record of
  the ``jti`` values seen while Redis was unreachable (policy ``memory``), or
  refuses signed requests with 503 (policy ``refuse``). With ``memory`` a
  token replayed against *another* process during the outage is not caught;
  that window is what the operator trades for staying up, and
  ``/health/ready`` reports Redis as degraded throughout.

Round trips are the expensive part on this hardware (a redis-py call costs
more CPU than the whole web framework), so concurrent callers share them:
every ``SET NX`` requested in one event-loop tick goes out in one pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("refund_registry.cache")


def create_redis(url: str, **options: Any) -> aioredis.Redis:
    """The service's Redis client; ``options`` go to redis-py (benchmarks pick a parser)."""
    # Short timeouts: a dead Redis must cost a request milliseconds, not seconds.
    return aioredis.Redis.from_url(
        url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        max_connections=64,
        health_check_interval=0,
        **options,
    )


class RedisBreaker:
    """Remembers that Redis failed, so that callers skip it for a moment.

    Without it every request during an outage would pay a connect timeout.
    """

    def __init__(self, cooldown: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self._clock = clock
        self._down_until = 0.0
        self.last_error: str | None = None

    @property
    def open(self) -> bool:
        """True while Redis is presumed down."""
        return self._clock() < self._down_until

    @property
    def degraded(self) -> bool:
        return self.last_error is not None

    def failed(self, exc: BaseException) -> None:
        if self.last_error is None:
            log.warning("Redis unreachable; using fallbacks", extra={"error": str(exc)})
        self.last_error = str(exc) or exc.__class__.__name__
        self._down_until = self._clock() + self.cooldown

    def succeeded(self) -> None:
        if self.last_error is not None:
            log.info("Redis reachable again")
        self.last_error = None
        self._down_until = 0.0


class _MemorySeen:
    """jti values seen while Redis was down, kept until their tokens expire."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._next_sweep = 0.0

    def __contains__(self, key: str) -> bool:
        expiry = self._seen.get(key)
        return expiry is not None and expiry > self._clock()

    def add(self, key: str, ttl: float) -> bool:
        now = self._clock()
        if now >= self._next_sweep:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            self._next_sweep = now + 10
        if key in self:
            return False
        self._seen[key] = now + ttl
        return True


class RedisBatcher:
    """Sends every command submitted during one event-loop tick in one pipeline.

    Callers await their own reply; a command that Redis answers with an error
    raises for its caller only, and a connection failure raises for all.
    """

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.round_trips = 0
        self.commands = 0

    async def call(self, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        self.round_trips += 1
        self.commands += len(batch)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for args, _ in batch:
                    pipe.execute_command(*args)
                results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # every waiter must hear of it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


class ReplayGuard:
    """Single use of ``jti``: ``SET key 1 NX EX ttl``, pipelined per event-loop tick."""

    def __init__(
        self,
        redis: aioredis.Redis | None,
        breaker: RedisBreaker,
        *,
        fallback: str = "memory",
        prefix: str = "rr:jti:",
        batcher: RedisBatcher | None = None,
    ) -> None:
        self.redis = redis
        self.breaker = breaker
        self.fallback = fallback
        self.prefix = prefix
        self.memory = _MemorySeen()
        self.batcher = batcher or (RedisBatcher(redis) if redis is not None else None)

    @property
    def round_trips(self) -> int:
        return self.batcher.round_trips if self.batcher else 0

    async def claim(self, key: str, ttl: int) -> bool:
        """True if ``key`` was not used before (and is now recorded as used)."""
        if key in self.memory:
            return False
        if self.batcher is None or self.breaker.open:
            return self._fallback(key, ttl)
        try:
            result = await self.batcher.call(
                "SET", self.prefix + key, b"1", "NX", "EX", max(ttl, 1)
            )
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return self._fallback(key, ttl)
        self.breaker.succeeded()
        return bool(result)

    def _fallback(self, key: str, ttl: int) -> bool:
        if self.fallback == "refuse":
            from refund_registry.errors import Unavailable

            raise Unavailable(
                "replay protection is unavailable (Redis down); retry shortly",
                code="auth.replay_guard_unavailable",
            )
        return self.memory.add(key, ttl)
