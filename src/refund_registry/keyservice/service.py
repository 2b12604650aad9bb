"""The key service's use case: rate limit → evaluate → count.

Authentication happens one step earlier, at the HTTP edge (the signed request
binds the exact body bytes, so it must be checked before the body is parsed);
what arrives here is an authenticated member id and blinded elements that have
already been decoded and checked for length.

Order matters and is deliberate:

1. *rate limit first*, so a throttled member costs one Redis round trip and
   no elliptic-curve work; a refused request spends no quota. Limits and
   quota belong to the member's organisation (``services/quotas.py``): Redis
   is the fast path, the day's count in PostgreSQL the backstop that holds
   when Redis is lost or restarted;
2. *evaluate*, which refuses an element that is not a valid group element
   (that request has been charged: the member asked for the work);
3. *count* in PostgreSQL before answering. The count is the durable record of
   how many guesses each member made, so when it cannot be written the answer
   is withheld (503) rather than handed out uncounted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import asyncpg

from refund_registry.domain import oprf
from refund_registry.services.quotas import OrgQuota
from refund_registry.storage import keyservice as usage_counts
from refund_registry.storage.ratelimit import RateLimiter, Usage

NAMESPACE: Final = "rr:rl:keyservice"
"""Redis key prefix of the key service's rate-limit counters."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The answer to one batch: evaluated elements in request order, and one proof."""

    evaluated: list[bytes]
    proof: bytes
    usage: Usage


class KeyService:
    """Holds the OPRF key and evaluates batches for members.

    The :class:`~refund_registry.domain.oprf.ServerKey` never leaves this
    object; only its public half is exposed.
    """

    def __init__(
        self,
        key: oprf.ServerKey,
        quota: OrgQuota,
        pool: asyncpg.Pool,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        limiter = quota.limiter
        # A full batch must be able to pass the per-second limit, or members
        # sending 100 elements would be refused for ever.
        if limiter.limits.per_second < oprf.MAX_BATCH:
            raise ValueError(
                f"the key service's per-second limit must be at least {oprf.MAX_BATCH} "
                f"(one full batch), got {limiter.limits.per_second}"
            )
        self._key = key
        self.quota = quota
        self.pool = pool
        self.clock = clock

    @property
    def limiter(self) -> RateLimiter:
        return self.quota.limiter

    @property
    def public_key(self) -> bytes:
        return self._key.public_key

    async def evaluate(self, member_id: str, blinded: Sequence[bytes]) -> Evaluation:
        """Evaluate ``blinded`` for ``member_id``, charging one unit per element.

        Precondition: ``member_id`` is an authenticated, active member.
        Raises ``RateLimited`` (429), a domain ``InvalidInput`` (422) or
        ``Unavailable`` (503, PostgreSQL down: nothing is answered uncounted).
        """
        # Checked before charging, so that a malformed request costs no quota.
        oprf.check_batch_shape(blinded)
        usage = await self.quota.charge(member_id, len(blinded))
        evaluated, proof = oprf.evaluate_batch(self._key, blinded)
        at = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        await usage_counts.count_usage(
            self.pool, member_id=member_id, at=at, evaluations=len(blinded)
        )
        return Evaluation(evaluated=evaluated, proof=proof, usage=usage)
