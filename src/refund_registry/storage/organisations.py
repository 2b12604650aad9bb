"""Organisations, their quotas and their durable daily usage (``org_usage``).

``org_usage`` holds one row per organisation, UTC day and kind of unit
(``evaluation``: a key-service evaluation; ``query``: an identifier looked up
by a risk query). Counts only grow (a trigger refuses a decrease, the
application role may not delete), so they stay the record of how many
guesses each organisation made, and the backstop of the Redis limiter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from refund_registry.storage.db import translated
from refund_registry.storage.queries import Q

EVALUATION = "evaluation"
QUERY = "query"


@dataclass(frozen=True, slots=True)
class OrgBudget:
    """A principal's organisation and its own quotas (``None``: the default)."""

    org_id: str
    evaluations_per_day: int | None
    queries_per_day: int | None

    def per_day(self, kind: str) -> int | None:
        return self.evaluations_per_day if kind == EVALUATION else self.queries_per_day


async def budget_of(pool: asyncpg.Pool, principal_id: str) -> OrgBudget | None:
    """The organisation of ``principal_id``; ``None`` for an unknown principal."""
    async with translated():
        row = await pool.fetchrow(Q["get_principal_budget"], principal_id)
    if row is None:
        return None
    return OrgBudget(row["org_id"], row["evaluations_per_day"], row["queries_per_day"])


async def charge(
    pool: asyncpg.Pool, *, org_id: str, day: dt.date, kind: str, units: int, quota: int
) -> int | None:
    """Add ``units`` to the organisation's day unless that passes ``quota``.

    Returns the day's total including them, or ``None`` when refused (then
    nothing was added). One statement, so concurrent charges from any number
    of processes never overshoot the quota together.
    """
    async with translated():
        total = await pool.fetchval(Q["charge_org_usage"], org_id, day, kind, units, quota)
    return None if total is None else int(total)


async def usage(pool: asyncpg.Pool, *, org_id: str, day: dt.date, kind: str) -> int:
    async with translated():
        total = await pool.fetchval(Q["get_org_usage"], org_id, day, kind)
    return 0 if total is None else int(total)


KEEP: Any = object()
"""Leave this quota as it is (``None`` resets it to the deployment's default)."""


async def set_quota(
    pool: asyncpg.Pool,
    org_id: str,
    *,
    evaluations_per_day: int | None = KEEP,
    queries_per_day: int | None = KEEP,
    ceilings: tuple[int, int],
) -> dict[str, Any] | None:
    """Set (or, with ``None``, reset to the default) an organisation's quotas.

    The row records whether the quotas in force are above ``ceilings``
    (evaluations, queries). ``None`` when there is no such organisation.
    """
    set_evaluations, set_queries = evaluations_per_day is not KEEP, queries_per_day is not KEEP
    async with translated():
        row = await pool.fetchrow(
            Q["set_org_quota"],
            org_id,
            evaluations_per_day if set_evaluations else None,
            queries_per_day if set_queries else None,
            set_evaluations,
            set_queries,
            *ceilings,
        )
    return dict(row) if row else None


async def list_today(pool: asyncpg.Pool, day: dt.date) -> list[dict[str, Any]]:
    """Every organisation with its quotas, principal count and ``day``'s usage."""
    async with translated():
        rows = await pool.fetch(Q["list_organisations_today"], day)
    return [dict(r) for r in rows]
