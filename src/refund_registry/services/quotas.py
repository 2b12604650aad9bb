"""Per-organisation enumeration budgets: Redis first, PostgreSQL as the durable backstop.

One :class:`OrgQuota` per kind of unit (key-service evaluations, risk-query
lookups). A charge is made for a principal but counted for its organisation,
so several principals of one platform share one budget.

1. The Redis limiter (``storage/ratelimit.py``) keeps the per-second rate and
   the day's count for the organisation: the fast path, and what refuses a
   throttled caller with one round trip.
2. The day's count in PostgreSQL (``org_usage``) is then charged with one
   conditional upsert that refuses to pass the quota. Redis loses its counters
   when it is lost, flushed or restarted, and the in-process fallback counts
   each process alone; this count does neither, so the daily quota holds
   across every process and every Redis outage.

The durable charges are grouped, as the access log groups its commits: while
one upsert of an organisation's day is in flight, the charges that arrive in
the meantime wait and are then summed into the next one (one statement, one
row lock, however many requests). Each caller still returns only once its own
units are in the committed count. When a sum would pass the quota, its
charges are retried one by one in arrival order, so a refusal falls on exactly
the charges that no longer fit, as if each had been made alone. Grouping
changes no count: ``org_usage`` holds exactly the units handed out, and never
more than the quota, across any number of processes.

When PostgreSQL cannot be written the charge fails (503): nothing is handed
out uncounted. Units Redis accepted and PostgreSQL then refused stay spent in
Redis for the day, which only makes Redis stricter than the durable count.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Final, NamedTuple

import asyncpg
from cachetools import TTLCache
from prometheus_client import Gauge

from refund_registry.errors import NotFound, RegistryError
from refund_registry.storage import organisations as store
from refund_registry.storage.organisations import EVALUATION, QUERY, OrgBudget
from refund_registry.storage.ratelimit import RateLimiter, Usage, quota_refusal

log = logging.getLogger("refund_registry.quotas")

EVALUATIONS_TODAY: Final = Gauge(
    "registry_org_evaluations_today",
    "Key-service evaluations the organisation spent today (UTC), from the durable count",
    ["org"],
)
DAILY_QUOTA: Final = Gauge(
    "registry_org_daily_quota",
    "The organisation's daily quota of key-service evaluations",
    ["org"],
)
QUERIES_TODAY: Final = Gauge(
    "registry_org_queries_today",
    "Identifiers the organisation looked up in risk queries today (UTC), from the durable count",
    ["org"],
)
DAILY_QUERY_QUOTA: Final = Gauge(
    "registry_org_daily_query_quota",
    "The organisation's daily quota of risk-query lookups (identifiers)",
    ["org"],
)

_GAUGES: Final = {
    EVALUATION: (EVALUATIONS_TODAY, DAILY_QUOTA),
    QUERY: (QUERIES_TODAY, DAILY_QUERY_QUOTA),
}


class OrgQuota:
    """Charges units of one ``kind`` to the organisation of the calling principal.

    ``default_per_day`` applies to organisations without a quota of their own.
    Organisations are looked up once and cached for ``cache_seconds`` (and
    dropped by :meth:`clear` when a principal or organisation changes).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        limiter: RateLimiter,
        *,
        kind: str,
        default_per_day: int,
        cache_seconds: float = 5.0,
    ) -> None:
        if kind not in _GAUGES:
            raise ValueError(f"unknown kind of unit {kind!r}")
        self.pool = pool
        self.limiter = limiter
        self.kind = kind
        self.default_per_day = default_per_day
        self._budgets: TTLCache[str, OrgBudget] = TTLCache(maxsize=10_000, ttl=cache_seconds)
        # Durable charges waiting for the upsert in flight, per organisation and day.
        self._waiting: dict[tuple[str, dt.date], list[_Waiter]] = {}
        self._draining: dict[tuple[str, dt.date], asyncio.Task[None]] = {}
        self.upserts = 0  # durable charge statements run (for the benches and tests)

    def clear(self) -> None:
        self._budgets.clear()

    async def budget(self, principal_id: str) -> OrgBudget:
        hit = self._budgets.get(principal_id)
        if hit is not None:
            return hit
        found = await store.budget_of(self.pool, principal_id)
        if found is None:
            raise NotFound(f"no principal {principal_id!r}", code="principal.not_found")
        self._budgets[principal_id] = found
        return found

    async def charge(self, principal_id: str, units: int) -> Usage:
        """Spend ``units`` of the principal's organisation, or raise ``RateLimited``.

        Precondition: ``1 <= units <= the limiter's per-second rate`` (callers
        bound their batches so that a full one fits).
        """
        budget = await self.budget(principal_id)
        quota = budget.per_day(self.kind) or self.default_per_day
        usage = await self.limiter.acquire(budget.org_id, units, per_day=quota)
        now = self.limiter.clock()  # one clock decides the day for both counts
        day = dt.datetime.fromtimestamp(now, dt.UTC).date()
        total = await self._durable(budget.org_id, day, units, quota)
        if total is None:
            if usage.source == "redis":
                # Redis believed the day had room: it was flushed or restarted.
                log.warning(
                    "daily quota held by the durable count",
                    extra={"org": budget.org_id, "kind": self.kind, "quota": quota},
                )
            raise quota_refusal(quota, now)
        return usage

    async def _durable(self, org_id: str, day: dt.date, units: int, quota: int) -> int | None:
        """Add ``units`` to the durable count in the next grouped upsert; the day's
        total once committed, or ``None`` when they did not fit the quota."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        key = (org_id, day)
        self._waiting.setdefault(key, []).append(_Waiter(units, quota, future))
        if key not in self._draining:
            # Started on the next tick: the charges of this tick join the first upsert.
            self._draining[key] = asyncio.get_running_loop().create_task(self._drain(key))
        return await future

    async def _drain(self, key: tuple[str, dt.date]) -> None:
        try:
            while group := self._waiting.pop(key, None):
                await self._charge_group(key, group)
        finally:
            del self._draining[key]

    async def _charge_group(self, key: tuple[str, dt.date], group: list[_Waiter]) -> None:
        org_id, day = key
        today, ceiling = _GAUGES[self.kind]  # set once per group, not per charge
        ceiling.labels(org=org_id).set(group[-1].quota)
        try:
            total = await self._upsert(
                org_id, day, sum(w.units for w in group), min(w.quota for w in group)
            )
        except Exception as exc:  # every waiter must hear of it (Unavailable, ...)
            for w in group:
                _settle(w.future, exc=exc)
            return
        if total is not None or len(group) == 1:
            if total is not None:
                today.labels(org=org_id).set(total)
            for w in group:
                _settle(w.future, total)
            return
        # The sum does not fit: charge one by one, in arrival order.
        for w in group:
            try:
                total = await self._upsert(org_id, day, w.units, w.quota)
            except Exception as exc:
                _settle(w.future, exc=exc)
                continue
            if total is not None:
                today.labels(org=org_id).set(total)
            _settle(w.future, total)

    async def _upsert(self, org_id: str, day: dt.date, units: int, quota: int) -> int | None:
        self.upserts += 1
        return await store.charge(
            self.pool, org_id=org_id, day=day, kind=self.kind, units=units, quota=quota
        )


class _Waiter(NamedTuple):
    units: int
    quota: int
    future: asyncio.Future[int | None]


def _settle(
    future: asyncio.Future[int | None], total: int | None = None, exc: Exception | None = None
) -> None:
    if future.done():  # the caller went away; its units stay charged (stricter)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(total)


async def refresh_gauges(
    pool: asyncpg.Pool,
    *,
    default_evaluations: int,
    default_queries: int,
    clock: Callable[[], float] = time.time,
) -> int:
    """Set every organisation's gauges from today's durable counts; returns how many.

    Run periodically by every API process, so that its ``/metrics`` shows the
    key service's evaluations too, and so that the counts fall to zero at
    midnight (UTC) for organisations that made no request since.
    """
    day = dt.datetime.fromtimestamp(clock(), dt.UTC).date()
    rows = await store.list_today(pool, day)
    for row in rows:
        org = row["id"]
        EVALUATIONS_TODAY.labels(org=org).set(row["evaluations_today"])
        DAILY_QUOTA.labels(org=org).set(row["evaluations_per_day"] or default_evaluations)
        QUERIES_TODAY.labels(org=org).set(row["queries_today"])
        DAILY_QUERY_QUOTA.labels(org=org).set(row["queries_per_day"] or default_queries)
    return len(rows)


async def keep_gauges(
    pool: asyncpg.Pool,
    stop: asyncio.Event,
    *,
    default_evaluations: int,
    default_queries: int,
    interval: float = 15.0,
) -> None:
    """:func:`refresh_gauges` every ``interval`` seconds until ``stop`` is set.

    A failed refresh (PostgreSQL down) leaves the last values and is logged;
    the next one tries again.
    """
    while not stop.is_set():
        try:
            await refresh_gauges(
                pool, default_evaluations=default_evaluations, default_queries=default_queries
            )
        except RegistryError as exc:
            log.warning("organisation gauges not refreshed", extra={"error": exc.detail})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
