"""The key service's durable usage counts in PostgreSQL (``keyservice_usage``).

One row per member and UTC day. The application role can only add to a row
(no DELETE, and a trigger refuses any decrease), so the counts are the
durable record of how many guesses each member made. Every function
translates driver errors into domain errors (``storage/db.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """A member's counts for one UTC day."""

    member_id: str
    day: dt.date
    requests: int
    evaluations: int
    first_at: dt.datetime
    last_at: dt.datetime


@translating
async def count_usage(
    pool: asyncpg.Pool, *, member_id: str, at: dt.datetime, evaluations: int
) -> tuple[int, int]:
    """Add one request of ``evaluations`` elements at ``at`` to the member's day.

    The day is ``at``'s date, so ``at`` should be in UTC. Returns the day's
    (requests, evaluations) including this one.
    """
    row = await pool.fetchrow(Q["count_keyservice_usage"], member_id, at.date(), evaluations, at)
    assert row is not None  # INSERT … ON CONFLICT DO UPDATE … RETURNING always returns the row
    return row["requests"], row["evaluations"]


@translating
async def usage_of(pool: asyncpg.Pool, *, member_id: str, day: dt.date) -> DailyUsage | None:
    """The member's counts for ``day``; ``None`` if it made no request that day."""
    row = await pool.fetchrow(Q["get_keyservice_usage"], member_id, day)
    if row is None:
        return None
    return DailyUsage(
        row["member_id"],
        row["day"],
        row["requests"],
        row["evaluations"],
        row["first_at"],
        row["last_at"],
    )
