"""A member's own reports, newest filing first, keyset-paged.

Only members have reports; any other role is refused (``auth.forbidden_role``),
and a member sees nothing but what it filed itself. Each item is the same view
as ``GET /v1/reports/{id}`` gives. A page is recorded in the access log
(action ``report.list``) before it is returned; the entry names no subject,
because the member only sees again what it filed itself (the single read,
``report.read``, names the report's subjects).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from refund_registry.domain import paging
from refund_registry.domain.access import AccessRecord
from refund_registry.domain.scoring import STATUSES
from refund_registry.errors import Forbidden
from refund_registry.services.authn import Caller
from refund_registry.services.report_lifecycle import report_view
from refund_registry.storage import queue as listing_rows
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.db import translated

STATUS_FILTER: Final = frozenset(STATUSES)
"""What the ``status`` filter takes: every report status."""


@dataclass(frozen=True, slots=True)
class ReportPage:
    """One page of a member's reports (each as ``GET /v1/reports/{id}`` shows it);
    ``next_after`` is the cursor of the next page, ``None`` at the end."""

    items: tuple[dict[str, Any], ...]
    next_after: str | None


async def member_reports(
    pool: asyncpg.Pool,
    access_log: AccessLog,
    viewer: Caller,
    *,
    status: str | None = None,
    after: str | None = None,
    limit: int = paging.DEFAULT_PAGE,
    now: datetime,
) -> ReportPage:
    """One page of ``viewer``'s own reports after the cursor ``after``, newest first.

    Refusals: ``auth.forbidden_role`` (403) for anyone but a member,
    ``page.cursor`` (400) for a cursor not handed out for this member and
    filter, ``page.limit`` and ``report.status_filter`` (422).
    """
    if viewer.role != "member":
        raise Forbidden(f"role {viewer.role!r} may not use this route", code="auth.forbidden_role")
    paging.check_limit(limit)
    paging.check_choice("status", status, STATUS_FILTER, code="report.status_filter")
    bound = paging.scope("reports", viewer.principal_id, status)
    start = paging.read_report_cursor(bound, after) if after is not None else None
    async with translated(), pool.acquire() as conn:
        rows = await listing_rows.member_reports(
            conn, viewer.principal_id, status=status, after=start, limit=limit + 1
        )
    shown = rows[:limit]
    next_after = None
    if len(rows) > limit:
        next_after = paging.report_cursor(bound, shown[-1].filed_at, shown[-1].id)
    await access_log.append(
        AccessRecord(
            at=now,
            actor=viewer.principal_id,
            role=viewer.role,
            action="report.list",
            request_digest=viewer.request_digest,
            detail={"filters": {"status": status}, "after": after, "count": len(shown)},
        )
    )
    return ReportPage(tuple(report_view(row) for row in shown), next_after)
