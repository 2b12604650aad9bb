"""The listings' reads: the appeal work queue and a member's own reports.

Keyset paging: each function takes the sort key of the last item already
shown (``None`` for the first page) and returns at most ``limit`` rows after
it, in the listing's order (``storage/sql/queue.sql``). Plain reads outside
any transaction; driver errors become domain errors through ``translating``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q
from refund_registry.storage.reports import StoredReport


@dataclass(frozen=True, slots=True)
class QueueRow:
    """An appeal in the queue, with what the queue shows of its report.

    ``queue_closed`` and ``queue_at`` are the appeal's sort key as the query
    computed it (with ``id``): the next page's cursor is made from them.
    """

    id: str
    report_id: str
    state: str
    grounds: str
    filed_at: datetime
    member_response_due: datetime | None
    decision_due: datetime
    decided_at: datetime | None
    member_id: str
    category: str
    amount_minor: int
    currency: str
    queue_closed: bool
    queue_at: datetime


QueueKey = tuple[bool, datetime, str]
"""``(closed, at, appeal id)``: where a queue page ends."""

ReportKey = tuple[datetime, str]
"""``(filed_at, report id)``: where a page of reports ends."""


@translating
async def appeal_queue(
    conn: Conn,
    *,
    member_id: str | None,
    state: str | None,
    due_before: datetime | None,
    after: QueueKey | None,
    limit: int,
) -> list[QueueRow]:
    """Up to ``limit`` appeals after ``after``: all of them, or only those on the
    reports of ``member_id``; open ones by current deadline, then closed ones."""
    closed, at, appeal_id = after if after is not None else (None, None, None)
    rows = await conn.fetch(
        Q["appeal_queue"], member_id, state, due_before, closed, at, appeal_id, limit
    )
    return [QueueRow(**row) for row in rows]


@translating
async def member_reports(
    conn: Conn,
    member_id: str,
    *,
    status: str | None,
    after: ReportKey | None,
    limit: int,
) -> list[StoredReport]:
    """Up to ``limit`` of the member's reports filed before ``after``, newest first."""
    filed_at, report_id = after if after is not None else (None, None)
    rows = await conn.fetch(Q["member_reports"], member_id, status, filed_at, report_id, limit)
    return [
        StoredReport(**{**row, "subject_keys": tuple(bytes(k) for k in row["subject_keys"])})
        for row in rows
    ]
