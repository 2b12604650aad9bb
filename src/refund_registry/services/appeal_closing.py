"""Persisting appeal transitions and closings, inside the caller's transaction.

Shared by the appeal use cases, the deadline worker and the ledger's
retraction (``close_for_retraction``). Every function here runs with the
appeal's report row already locked by the caller: that lock serialises every
writer of an appeal. An overturn tells the members that queried the buyer
recently, naming their own queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from refund_registry.domain import appeals as machine
from refund_registry.domain.wire import iso
from refund_registry.services.locking import change_report_status, lock_subjects
from refund_registry.storage import appeals as appeal_rows
from refund_registry.storage import events, inquiries
from refund_registry.storage.appeals import AppealRow
from refund_registry.storage.conn import Conn

CORRECTION_WINDOW: Final = timedelta(days=90)
"""Members that queried a buyer this long before an overturn are told of it."""


async def close_for_retraction(
    conn: Conn, report_id: str, keys: Sequence[bytes], now: datetime
) -> str | None:
    """Close the open appeal of a report its member has just retracted (its subject
    keys: ``keys``); return the appeal's id.

    For ``Ledger.retract``, inside its transaction, after it set the report to
    ``retracted`` (it holds the report row lock, and the aggregates no longer
    count the report). The appeal ends ``overturned`` with the reason
    ``report_retracted``: the buyer got what the appeal asked for, and every
    member that queried the buyer in the last 90 days is told, as for any
    overturn. Without this call the deadline worker closes the appeal the same
    way on its next pass.
    """
    row = await appeal_rows.open_appeal_of(conn, report_id)
    if row is None:
        return None
    await close_moot(conn, row, "retracted", keys, now, by="member")
    return row.id


async def apply_transition(
    conn: Conn,
    row: AppealRow,
    report_keys: Sequence[bytes],
    step: machine.Transition,
    now: datetime,
    data: dict[str, Any],
    *,
    summary: str | None = None,
    rationale: str | None = None,
    answered: bool = False,
    withdrawn_via: str | None = None,
) -> list[bytes]:
    """Persist one decided transition and its effect on the report (whose subject
    keys are ``report_keys``).

    Returns the subject keys whose aggregates changed. The report effect is
    applied only to a report that is still ``disputed``: the open-appeal
    check before the decision guarantees it for party actions.
    ``withdrawn_via`` (the member a withdrawing buyer acted through; ``None``:
    directly) is recorded when the transition is a withdrawal.
    """
    appeal_id, report_id, member_id = row.id, row.report_id, row.member_id
    effect = step.report_effect
    keys = sorted(report_keys) if effect else []
    facts = await lock_subjects(conn, keys) if keys else {}
    await set_state(
        conn, row, step.new_state.value, now,
        summary=summary, rationale=rationale, answered_at=now if answered else None,
        withdrawn_via=withdrawn_via,
    )  # fmt: skip
    await events.append(
        conn, events.Event(now, step.event_type, member_id, report_id, appeal_id, data)
    )
    if effect is None:
        return []
    await change_report_status(
        conn, report_id, facts, "disputed", machine.REPORT_STATUS_AFTER[effect], now,
        f"appeal {appeal_id}: {step.new_state.value}",
    )  # fmt: skip
    event = "report.overturned" if effect == "overturned" else "report.reinstated"
    await events.append(
        conn, events.Event(now, event, member_id, report_id, appeal_id, {"by": data["by"]})
    )
    if effect == "overturned":
        await send_corrections(conn, report_id, keys, now)
    return keys


async def close_moot(
    conn: Conn,
    row: AppealRow,
    report_status: str,
    keys: Sequence[bytes],
    now: datetime,
    *,
    by: str,
) -> str:
    """Close an open appeal whose report left ``disputed`` by a ledger route.

    Not a transition of ``domain.appeals``: no party acts on the appeal; the
    report it contests was retracted or expired, so there is nothing left to
    decide. The appeal ends ``overturned`` (the report no longer counts, which
    is what the buyer asked for); a retraction also corrects the members that
    queried the buyer, since a refusal may have rested on the report.
    Returns the reason recorded.
    """
    reason = f"report_{report_status}"
    await set_state(conn, row, machine.AppealState.OVERTURNED.value, now, closed_reason=reason)
    await events.append(
        conn,
        events.Event(
            now, "appeal.closed", row.member_id, row.report_id, row.id,
            {"by": by, "reason": reason},
        ),
    )  # fmt: skip
    if report_status == "retracted":
        await send_corrections(conn, row.report_id, sorted(keys), now)
    return reason


async def set_state(
    conn: Conn,
    row: AppealRow,
    state: str,
    now: datetime,
    *,
    summary: str | None = None,
    rationale: str | None = None,
    closed_reason: str | None = None,
    answered_at: datetime | None = None,
    withdrawn_via: str | None = None,
) -> None:
    """Move the appeal from the state in ``row`` to ``state`` (compare-and-set)."""
    decided_at = None if machine.AppealState(state) in machine.OPEN_STATES else now
    changed = await appeal_rows.set_state(
        conn, row.id, row.state, state, summary=summary, rationale=rationale,
        closed_reason=closed_reason, answered_at=answered_at, decided_at=decided_at,
        withdrawn_via=withdrawn_via,
    )  # fmt: skip
    if not changed:  # pragma: no cover - the report row lock makes this unreachable
        current = await appeal_rows.state_of(conn, row.id)
        assert current is not None  # appeals are never deleted
        raise machine.IllegalTransition(
            f"the appeal moved to {current} first", state=machine.AppealState(current)
        )


async def send_corrections(
    conn: Conn, report_id: str, keys: Sequence[bytes], now: datetime
) -> None:
    """Tell each member that queried these subjects in the last 90 days, naming its queries.

    Every member gets only its own query ids: another member's queries are
    none of its business. The event carries no subject key (events never do).
    """
    if not keys:
        return
    queriers = await inquiries.queriers(conn, keys, now - CORRECTION_WINDOW, now)
    await events.append_many(
        conn,
        [
            events.Event(
                now, "report.overturned_after_your_query", q.member_id, report_id, None,
                {"query_ids": q.query_ids, "last_queried_at": iso(q.last_queried_at)},
            )
            for q in queriers
        ],
    )  # fmt: skip
