"""Appeals and a buyer's record as each party sees them."""

from __future__ import annotations

from typing import Any

from refund_registry.domain import appeals as machine
from refund_registry.domain.wire import b64url, iso
from refund_registry.storage import appeals as appeal_rows
from refund_registry.storage import events
from refund_registry.storage.appeals import AppealListing, AppealRow
from refund_registry.storage.conn import Conn
from refund_registry.storage.reports import SubjectReport


def acted_by(via_member: str | None) -> dict[str, str | None]:
    """How the buyer acted: directly (``via_member`` None) or through that member.

    The shape of ``filed_by`` and ``withdrawn_by`` in appeal views and in the
    ledger events of filings and withdrawals.
    """
    if via_member is None:
        return {"how": "direct", "member": None}
    return {"how": "via_member", "member": via_member}


def to_domain(row: AppealRow) -> machine.Appeal:
    """The stored appeal as the state machine's value."""
    return machine.Appeal(
        state=machine.AppealState(row.state),
        grounds=machine.Grounds(row.grounds),
        statement=row.statement,
        filed_at=row.filed_at,
        member_response_due=row.member_response_due,
        decision_due=row.decision_due,
    )


async def appeal_view(conn: Conn, appeal_id: str, role: machine.ActorRole) -> dict[str, Any]:
    """The appeal as one party sees it, from the transaction's own snapshot.

    Every party sees the state, deadlines, grounds, statement, the member's
    summary, the rationale and the history: an appeal is adversarial, and
    each side must know what the other put forward. Every party also sees
    who filed and who withdrew the appeal (``filed_by``, ``withdrawn_by``:
    the buyer directly, or through which member), so that a buyer sees what
    was done in their name and the member and the adjudicator know whom the
    buyer went through. Only the reporting member and adjudicators see the
    member's case reference and the evidence digest, which are the member's
    own bookkeeping. Precondition: the caller holds the lock (or snapshot)
    that keeps the appeal and its report there.
    """
    row = await appeal_rows.get(conn, appeal_id)
    assert row is not None, f"no appeal {appeal_id!r}"
    report = await appeal_rows.contested_report(conn, row.report_id)
    assert report is not None, f"no report {row.report_id!r}"
    history = await events.appeal_history(conn, appeal_id, row.report_id, row.filed_at)
    report_view: dict[str, Any] = {
        "status": report.status,
        "status_changed_at": iso(report.status_changed_at),
        "member": report.member_name,
        "category": report.category,
        "amount": {"minor_units": report.amount_minor, "currency": report.currency},
        "order_date": report.order_date.isoformat(),
        "refund_date": report.refund_date.isoformat(),
        "confirmed_at": iso(report.confirmed_at),
    }
    if role is not machine.ActorRole.BUYER:
        report_view["case_reference"] = report.case_reference
        report_view["evidence_digest"] = b64url(report.evidence_digest)
    return {
        **appeal_summary(row),
        "filed_by": acted_by(row.filed_via),
        "withdrawn_by": (
            acted_by(row.withdrawn_via) if row.state == machine.AppealState.WITHDRAWN else None
        ),
        "statement": row.statement,
        "answered_at": iso(row.answered_at),
        "member_summary": row.member_summary,
        "decision_rationale": row.decision_rationale,
        "report": report_view,
        "history": [{"type": h.type, "at": iso(h.at), **h.data} for h in history],
    }


def appeal_summary(row: AppealRow | AppealListing) -> dict[str, Any]:
    return {
        "appeal_id": row.id,
        "report_id": row.report_id,
        "state": row.state,
        "grounds": row.grounds,
        "filed_at": iso(row.filed_at),
        "member_response_due": iso(row.member_response_due),
        "decision_due": iso(row.decision_due),
        "closed_at": iso(row.decided_at),
        "closed_reason": row.closed_reason,
    }


def record_report(row: SubjectReport) -> dict[str, Any]:
    """A report as the buyer it is about sees it on their record."""
    return {
        "report_id": row.id,
        "member": row.member_name,
        "category": row.category,
        "amount": {"minor_units": row.amount_minor, "currency": row.currency},
        "order_date": row.order_date.isoformat(),
        "refund_date": row.refund_date.isoformat(),
        "confirmed_at": iso(row.confirmed_at),
        "filed_at": iso(row.filed_at),
        "status": row.status,
        "status_changed_at": iso(row.status_changed_at),
        "expires_at": iso(row.expires_at),
        "matched_kinds": list(row.matched_kinds),
    }
