"""What an operator's metrics read from PostgreSQL: the log's progress, appeals, webhooks.

Read at scrape time only (``http/metrics.py``), never on a request's path. Each
read is bounded: a short pool-acquire timeout, a statement timeout, and counts
capped at :data:`COUNT_CAP` so that a large backlog (the very thing an alert is
for) cannot make the scrape itself slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from refund_registry.errors import Unavailable
from refund_registry.storage.db import translated
from refund_registry.storage.queries import Q

COUNT_CAP = 1_000_000
"""Backlogs are counted up to this many rows; beyond it the gauge reads the cap."""

WEBHOOK_CAP = 1_000
"""Events counted per webhook endpoint; beyond it the endpoint counts this many."""

TIMEOUT = 2.0
"""Seconds each read (and the wait for a pooled connection) may take."""


@dataclass(frozen=True, slots=True)
class LogState:
    """The access log's progress: leaves in the tree, the latest checkpoint, what waits."""

    tree_size: int
    checkpoint_size: int | None
    checkpoint_at: datetime | None
    pending: int
    oldest_pending_at: datetime | None
    oldest_unpublished_at: datetime | None
    """Receipt time of the oldest entry in no checkpoint yet, sequenced or not."""


@dataclass(frozen=True, slots=True)
class OpenAppeals:
    """Open appeals in one state, and the nearest deadline the worker will act on."""

    state: str
    open: int
    nearest_due: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookBacklog:
    active: int
    disabled: int
    behind: int
    """Active endpoints with at least one event waiting."""
    waiting: int
    oldest_at: datetime | None


@dataclass(frozen=True, slots=True)
class OperationsState:
    log: LogState
    appeals: tuple[OpenAppeals, ...]
    webhooks: WebhookBacklog


async def read_state(pool: asyncpg.Pool) -> OperationsState:
    """One consistent-enough reading of the three areas (three statements, one connection).

    Raises :class:`~refund_registry.errors.Unavailable` when PostgreSQL does not
    answer within :data:`TIMEOUT` seconds per step.
    """
    try:
        async with translated(), pool.acquire(timeout=TIMEOUT) as conn:
            row = await conn.fetchrow(Q["ops_log_state"], COUNT_CAP, timeout=TIMEOUT)
            appeals = await conn.fetch(Q["ops_open_appeals"], timeout=TIMEOUT)
            hooks = await conn.fetchrow(Q["ops_webhook_backlog"], WEBHOOK_CAP, timeout=TIMEOUT)
    except asyncpg.PostgresError as exc:  # a cancelled statement, a server in recovery
        raise Unavailable(
            f"operations state unreadable: {exc.__class__.__name__}", code="db.unavailable"
        ) from exc
    assert row is not None
    assert hooks is not None
    oldest = [t for t in (row["oldest_unpublished_at"], row["oldest_pending_at"]) if t]
    log = LogState(
        tree_size=row["tree_size"],
        checkpoint_size=row["checkpoint_size"],
        checkpoint_at=row["checkpoint_at"],
        pending=row["pending"],
        oldest_pending_at=row["oldest_pending_at"],
        oldest_unpublished_at=min(oldest) if oldest else None,
    )
    return OperationsState(
        log=log,
        appeals=tuple(OpenAppeals(r["state"], r["open"], r["nearest_due"]) for r in appeals),
        webhooks=WebhookBacklog(
            active=hooks["active"],
            disabled=hooks["disabled"],
            behind=hooks["behind"],
            waiting=hooks["waiting"],
            oldest_at=hooks["oldest_at"],
        ),
    )
