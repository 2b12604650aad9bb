"""Redis (Valkey) access: the replay guard, with its stated failure policy.

Every Redis dependency here says what happens when Redis is gone:

* replay guard (``jti`` single use) — the policy ``REGISTRY_JTI_FALLBACK``:

  - ``database`` (the production default): the ``iss:jti`` of each token is
    inserted into the ``used_jtis`` table (``INSERT … ON CONFLICT DO
    NOTHING``; accepted iff a row was inserted), every claim of one event-loop
    tick in one statement. Every API process shares the table, so a token is
    accepted once across all of them; a worker duty deletes expired rows.
  - ``memory`` (the default outside production: zero-setup and tests): an
    in-process record of the ``jti`` values seen while Redis was unreachable.
    A token replayed against *another* process during the outage is not
    caught.
  - ``refuse``: signed requests get 503 ``auth.replay_guard_unavailable``.

  ``/health/ready`` reports Redis as degraded throughout.

  Neither fallback holds the tokens Redis accepted before it went away, so
  while falling back a process refuses, with 401 ``auth.replay_window``, every
  token that Redis may have seen: one issued (``iat``) no later than the
  second of this process's last successful claim in Redis. The client signs a
  fresh token (the SDK does so by itself); a token Redis accepted through any
  process up to then is not accepted again during the outage. (A process that
  never reached Redis has no such moment and applies no such bound.)

* an empty Redis (restarted without persistence, flushed, failed over) holds
  no record of the tokens it accepted before. The guard therefore keeps a
  *replay store epoch* in Redis, ``rr:{jti}:epoch``: the second since which
  this store has seen every accepted token, set with ``SET NX`` by the first
  claim that finds it missing, dated ``EPOCH_GRACE`` (2 s) before that claim
  (read and set in the same pipeline as the claims, so no extra round trip).
  A token whose ``iat`` is earlier than the epoch may have been used before
  the store started and is refused with 401
  ``auth.replay_window``; the client signs a fresh token. The same holds after
  an outage: a process that recorded tokens in ``used_jtis`` raises the epoch
  past the second Redis answered again, so tokens from the outage cannot be
  replayed through Redis. (With ``memory`` a process still finds the tokens
  it recorded itself, which it checks before Redis.) Tokens live at most
  120 s, so the check only ever
  refuses anything during that long after a restart. A client whose clock
  runs *ahead* by ``d`` seconds (up to the allowed skew) keeps a replay window
  of the ``d`` seconds before a restart; API servers must keep their clocks
  synchronised, since the epoch is written by whichever one sees the empty
  store first.

* a Valkey Cluster (``storage/redis_client.py``): each token's key is
  hash-tagged by itself (``rr:jti:{iss:jti}``), so claims spread over every
  primary; the epoch (``rr:{jti}:epoch``) lives in one slot and is read in
  the same pipeline, which the cluster client splits by node. A primary that
  dies takes with it the claims it acknowledged but had not yet passed to
  its replica. While it is down (until the replica is promoted) claims fail
  as unavailable and the fallbacks answer, which raises the epoch once Redis
  answers again; and a claim that finds the cluster's set of primaries
  changed since the previous one raises the epoch the same way, even when no
  claim failed in between. Either way a token issued before the promotion
  cannot be accepted again through the promoted replica.

Round trips and commands are the expensive part on this hardware (a
redis-py command costs more CPU than the whole web framework), so concurrent
callers share them (``storage/redis_batch.py``): on one server, the claims
of one event-loop tick are one script call that reads (and if missing
creates) the epoch and makes every ``SET NX EX`` of the tick; on a cluster,
every claim's ``SET NX`` of the tick goes out in one pipeline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from refund_registry.storage.redis_batch import RedisBatcher, ScriptGroups
from refund_registry.storage.redis_client import (
    UNAVAILABLE,
    RedisClient,
    create_redis,
    hash_tag,
    primaries,
)
from refund_registry.storage.used_jtis import DatabaseSeen

__all__ = ["EPOCH_KEY", "RedisBatcher", "RedisBreaker", "ReplayGuard", "create_redis"]

log = logging.getLogger("refund_registry.cache")


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


def _ignore_outcome(future: asyncio.Future[Any]) -> None:
    """Retrieve a reply nobody awaits, so that a failure is not reported as unheard."""
    if not future.cancelled():
        future.exception()


EPOCH_KEY = "rr:{jti}:epoch"
"""The replay store's epoch (module docstring); the embedded Valkey sets it when it starts."""

_CLAIMS = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
local out = {epoch}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[i]) then out[i] = 1 else out[i] = 0 end
end
return table.concat(out, ' ')
"""
"""KEYS = the epoch, then the tokens' keys; ARGV = the epoch to set if missing, then each TTL.

Returns the epoch, then 1 for each token claimed now and 0 for each seen before,
separated by spaces.
"""

EPOCH_GRACE = 2
"""Seconds before its first use that a new replay store's epoch is dated.

A token signed just before an empty store is first used (and claimed by that
first use) is then not refused; a real restart takes longer than this, so a
token used on the old store is still older than the epoch.
"""

FALLBACKS = ("database", "memory", "refuse")
"""The replay guard's policies while Redis is unreachable (see the module docstring)."""


class ReplayGuard:
    """Single use of ``jti``: ``SET key 1 NX EX ttl``, pipelined per event-loop tick.

    Beside the claims, each pipeline carries one ``SET rr:{jti}:epoch <now> NX``
    and one ``GET rr:{jti}:epoch``: the replay store epoch (module docstring).
    The embedded Valkey of zero-setup mode sets the epoch itself when it
    starts, before any client can reach it (``cli/embedded_valkey.py``).
    """

    def __init__(
        self,
        redis: RedisClient | None,
        breaker: RedisBreaker,
        *,
        fallback: str = "memory",
        prefix: str = "rr:jti:",
        batcher: RedisBatcher | None = None,
        pool: asyncpg.Pool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if fallback not in FALLBACKS:
            raise ValueError(f"unknown replay fallback {fallback!r}")
        if fallback == "database" and pool is None:
            raise ValueError("the database fallback needs a connection pool")
        self.redis = redis
        self.breaker = breaker
        self.fallback = fallback
        self.prefix = prefix
        self.epoch_key = EPOCH_KEY if prefix == "rr:jti:" else prefix + "epoch:{epoch}"
        self.memory = _MemorySeen()
        self.database = DatabaseSeen(pool, clock) if pool is not None else None
        self.batcher = batcher or (RedisBatcher(redis) if redis is not None else None)
        # One server: every claim of a tick in one script call (module docstring).
        self.claims = (
            ScriptGroups(redis, self.batcher, _CLAIMS, head=1, width=1)
            if redis is not None and self.batcher is not None and primaries(redis) is None
            else None
        )
        self._clock = clock
        # Set while this process recorded tokens outside Redis; the next claim
        # that reaches Redis raises the epoch past them.
        self._fell_back = False
        # The epoch this process raised after its own fallback, in case Redis
        # has not recorded it (claims of the same pipeline, a lost write).
        self._floor = 0
        # When this process started, and when Redis last accepted a claim of
        # it: what Redis may have seen, which the fallbacks do not hold.
        self._started = clock()
        self._last_success: float | None = None
        # The cluster's primaries as of the last claim that reached Redis.
        self._primaries: frozenset[str] | None = None

    def key(self, key: str) -> str:
        """The Redis key recording ``key`` (``iss:jti``) as used: hash-tagged by itself."""
        return self.prefix + hash_tag(key)

    def _note_topology(self) -> None:
        """Treat a change of the cluster's primaries like an outage (module docstring)."""
        if self.redis is None:
            return
        seen = primaries(self.redis)
        if seen is not None and self._primaries is not None and seen != self._primaries:
            log.warning(
                "Redis Cluster primaries changed; raising the replay store epoch",
                extra={"before": sorted(self._primaries), "after": sorted(seen)},
            )
            self._fell_back = True
        self._primaries = seen

    @property
    def round_trips(self) -> int:
        return self.batcher.round_trips if self.batcher else 0

    async def claim(self, key: str, ttl: int, issued_at: int | None = None) -> bool:
        """True if ``key`` was not used before (and is now recorded as used).

        ``issued_at`` is the token's ``iat``: a token issued before the replay
        store's epoch raises 401 ``auth.replay_window`` (module docstring).
        """
        if key in self.memory:
            return False
        if self.batcher is None or self.breaker.open:
            return await self._fallback(key, ttl, issued_at)
        moment = self._clock()
        now = int(moment)
        start = now - EPOCH_GRACE
        try:
            epoch_raw, result = await self._ask(self.key(key), max(ttl, 1), start)
        except UNAVAILABLE as exc:
            self.breaker.failed(exc)
            return await self._fallback(key, ttl, issued_at)
        self.breaker.succeeded()
        self._last_success = moment
        self._note_topology()
        epoch = start if epoch_raw is None else int(epoch_raw)
        if self._fell_back:
            # Tokens of the outage are recorded elsewhere: from now on Redis
            # takes only tokens issued after the second it answered again (a
            # token of this very second may have been recorded in the fallback).
            self._fell_back = False
            self._floor = max(self._floor, epoch, now + 1)
            raised = self.batcher.submit("SET", self.epoch_key, str(self._floor).encode())
            raised.add_done_callback(_ignore_outcome)
        epoch = max(epoch, self._floor)
        if issued_at is not None and issued_at < epoch:
            from refund_registry.errors import AuthenticationFailed

            raise AuthenticationFailed(
                "this token was issued before the replay store's current record began; "
                "sign a fresh token",
                code="auth.replay_window",
            )
        return bool(result)

    async def _ask(self, key: str, ttl: int, start: int) -> tuple[Any, Any]:
        """Claim ``key`` in Redis: (the epoch, set to ``start`` if missing; whether claimed now)."""
        assert self.batcher is not None
        if self.claims is not None:
            (epoch_raw,), (claimed,) = await self.claims.call(
                [self.epoch_key], [start], [key], [ttl]
            )
            return epoch_raw, claimed
        # A cluster: the claim lives in its token's slot, the epoch in its own.
        # SET NX, then GET, in the same pipeline (so in order on the epoch's
        # node): the epoch as it stands once this claim may have created it.
        # (Not ``SET … NX GET``: redis-py turns that reply into a bool.)
        self.batcher.submit_once(
            "epoch-set", "SET", self.epoch_key, str(start).encode(), "NX"
        ).add_done_callback(_ignore_outcome)
        epoch_reply = self.batcher.submit_once("epoch", "GET", self.epoch_key)
        claim_reply = self.batcher.submit("SET", key, b"1", "NX", "EX", ttl)
        try:
            return await epoch_reply, await claim_reply
        except UNAVAILABLE:
            # Retrieve the other reply so nothing is left unheard (on a
            # cluster the two may live on different nodes and fail apart).
            for reply in (epoch_reply, claim_reply):
                if reply.done() and not reply.cancelled():
                    reply.exception()
            raise

    def _seen_by_redis(self, issued_at: int | None) -> bool:
        """Whether Redis may have accepted a token issued at ``issued_at`` (module docstring)."""
        if issued_at is None or self._last_success is None:
            return False
        return issued_at <= int(self._last_success)

    def _window(self) -> Exception:
        from refund_registry.errors import AuthenticationFailed

        return AuthenticationFailed(
            "this token was issued before the replay store became unreachable; sign a fresh token",
            code="auth.replay_window",
        )

    async def _fallback(self, key: str, ttl: int, issued_at: int | None = None) -> bool:
        if self.fallback == "refuse":
            from refund_registry.errors import Unavailable

            raise Unavailable(
                "replay protection is unavailable (Redis down); retry shortly",
                code="auth.replay_guard_unavailable",
            )
        if self.fallback == "database" and self.database is not None:
            self._fell_back = True
            try:
                fresh = await self.database.add(key, ttl)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                from refund_registry.errors import Unavailable

                raise Unavailable(
                    "replay protection is unavailable (Redis and PostgreSQL down); retry shortly",
                    code="auth.replay_guard_unavailable",
                ) from None
        else:
            fresh = self.memory.add(key, ttl)
        # Recorded first, so that a replay of a recorded token is named as one.
        if fresh and self._seen_by_redis(issued_at):
            raise self._window()
        return fresh
