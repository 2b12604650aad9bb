"""The appeal work queue: which appeals a member or an adjudicator has to look at.

Adjudicators see every appeal, a member only the appeals on reports it filed
(``appeals.member_id`` is the reporting member); any other role is refused
(``auth.forbidden_role``). The order is the queue's: open appeals first, the
one whose current deadline (the member's answer while ``awaiting_member``,
the decision while ``awaiting_adjudication``) comes soonest at the top; then
closed appeals, by the time they closed. Pages are keyset-paged with the
opaque cursors of ``domain.paging``, bound to the viewer and the filters.

Every page is recorded in the access log (action ``appeal.list``) before it is
returned, like any other staff read. The items name no buyer (no subject key,
statement or case reference), so the entry carries no subject commitment;
opening one appeal is its own ``appeal.read``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import asyncpg

from refund_registry.domain import appeals as machine
from refund_registry.domain import paging
from refund_registry.domain.access import AccessRecord
from refund_registry.domain.wire import iso
from refund_registry.errors import Forbidden
from refund_registry.services.authn import Caller
from refund_registry.storage import queue as queue_rows
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.db import translated

STATES: Final = frozenset(s.value for s in machine.AppealState)
"""What the ``state`` filter takes."""

VIEWERS: Final = frozenset({"adjudicator", "member"})
"""The roles that have a queue."""


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One appeal as the queue shows it.

    ``due`` is the deadline of the step the appeal is in (``None`` once
    closed); ``days_left`` the whole days until it at the time of the request
    (``domain.appeals.days_left``: a part of a day counts as one, 0 or less
    once passed). ``member`` is the reporting member's principal id.
    """

    appeal_id: str
    report_id: str
    state: str
    grounds: str
    filed_at: datetime
    due: datetime | None
    days_left: int | None
    member: str
    category: str
    amount_minor_units: int
    currency: str


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the queue; ``next_after`` is the cursor of the next page, ``None`` at the end."""

    items: tuple[QueueItem, ...]
    next_after: str | None


async def appeal_queue(
    pool: asyncpg.Pool,
    access_log: AccessLog,
    viewer: Caller,
    *,
    state: str | None = None,
    due_before: datetime | None = None,
    after: str | None = None,
    limit: int = paging.DEFAULT_PAGE,
    now: datetime,
) -> QueuePage:
    """One page of ``viewer``'s queue after the cursor ``after``.

    ``state`` keeps appeals in that state; ``due_before`` keeps open appeals
    whose current deadline is before it (closed ones have none). ``limit`` is
    1 to ``paging.MAX_PAGE``. Refusals: ``auth.forbidden_role`` (403) for a
    role without a queue, ``page.cursor`` (400) for a cursor not handed out
    for this viewer and these filters, ``page.limit``, ``queue.state`` and
    ``queue.due_before`` (422). Precondition: ``now`` is timezone-aware.
    """
    member = _member_filter(viewer)
    paging.check_limit(limit)
    paging.check_choice("state", state, STATES, code="queue.state")
    paging.check_time("due_before", due_before, code="queue.due_before")
    bound = paging.scope("appeals", viewer.principal_id, state, iso(due_before))
    start = paging.read_appeal_cursor(bound, after) if after is not None else None
    async with translated(), pool.acquire() as conn:
        rows = await queue_rows.appeal_queue(
            conn, member_id=member, state=state, due_before=due_before, after=start,
            limit=limit + 1,
        )  # fmt: skip
    shown = rows[:limit]
    next_after = None
    if len(rows) > limit:
        last = shown[-1]
        next_after = paging.appeal_cursor(bound, last.queue_closed, last.queue_at, last.id)
    await access_log.append(
        AccessRecord(
            at=now,
            actor=viewer.principal_id,
            role=viewer.role,
            action="appeal.list",
            request_digest=viewer.request_digest,
            detail={
                "view": "appeal_queue",
                "filters": {"state": state, "due_before": iso(due_before)},
                "after": after,
                "count": len(shown),
                # Console work is marked so an auditor tells it from signed API calls.
                **({"via": viewer.via} if viewer.via else {}),
            },
        )
    )
    return QueuePage(tuple(_item(row, now) for row in shown), next_after)


def _member_filter(viewer: Caller) -> str | None:
    """Whose reports' appeals ``viewer`` sees: ``None`` for all (an adjudicator)."""
    if viewer.role not in VIEWERS:
        raise Forbidden(f"role {viewer.role!r} may not use this route", code="auth.forbidden_role")
    return viewer.principal_id if viewer.role == "member" else None


def _item(row: queue_rows.QueueRow, now: datetime) -> QueueItem:
    due = machine.Appeal(
        state=machine.AppealState(row.state),
        grounds=machine.Grounds(row.grounds),
        statement="",
        filed_at=row.filed_at,
        member_response_due=row.member_response_due,
        decision_due=row.decision_due,
    ).current_due
    return QueueItem(
        appeal_id=row.id,
        report_id=row.report_id,
        state=row.state,
        grounds=row.grounds,
        filed_at=row.filed_at,
        due=due,
        days_left=machine.days_left(due, now),
        member=row.member_id,
        category=row.category,
        amount_minor_units=row.amount_minor,
        currency=row.currency,
    )


def item_json(item: QueueItem) -> dict[str, object]:
    """The queue item on the wire (``amount`` as in every report view)."""
    return {
        "appeal_id": item.appeal_id,
        "report_id": item.report_id,
        "state": item.state,
        "grounds": item.grounds,
        "filed_at": iso(item.filed_at),
        "due": iso(item.due),
        "days_left": item.days_left,
        "member": item.member,
        "category": item.category,
        "amount": {"minor_units": item.amount_minor_units, "currency": item.currency},
    }
