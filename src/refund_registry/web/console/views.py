"""What console pages show: queue rows and an appeal, in the staff member's language.

Pure functions of the use cases' answers, a :class:`Language` and the time,
so the pages' templates only lay things out. Categories, grounds and history
steps use the portal's words (``web/views.py``); states and actors are said
from the staff's side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from refund_registry.services.appeal_queue import QueueItem
from refund_registry.web import views
from refund_registry.web.i18n import CHINA_TIME, N_, Language

STATES: Final[Mapping[str, str]] = {
    "awaiting_member": N_("Awaiting the member's answer"),
    "awaiting_adjudication": N_("Awaiting adjudication"),
    "upheld": N_("Upheld: the report stands"),
    "overturned": N_("Overturned: the report no longer counts"),
    "withdrawn": N_("Withdrawn by the buyer"),
}

ACTORS: Final[Mapping[str, str]] = {
    "buyer": N_("the buyer"),
    "member": N_("the member"),
    "adjudicator": N_("the adjudicator"),
    "system": N_("the registry"),
}

QUEUE_FILTERS: Final = (
    "awaiting_adjudication",
    "awaiting_member",
    "upheld",
    "overturned",
    "withdrawn",
)
"""The states the queue filters by, in the menu's order; ``all`` is every state."""


def state_words(language: Language, state: str) -> str:
    return language.gettext(STATES[state]) if state in STATES else state


def category_words(language: Language, category: str) -> str:
    known = views.CATEGORIES.get(category)
    return language.gettext(known) if known else category


def grounds_words(language: Language, grounds: str) -> str:
    label = next((lab for value, lab, _ in views.GROUNDS if value == grounds), None)
    return language.gettext(label) if label else grounds


def days_left_words(language: Language, days: int | None) -> str:
    if days is None:
        return "—"
    if days <= 0:
        return language.gettext("Deadline passed")
    return language.ngettext("%(num)d day left", "%(num)d days left", days)


def due_before(day: str | None) -> datetime | None:
    """The end of ``day`` (``YYYY-MM-DD``, China time) as the queue's ``due_before``;
    ``None`` for no day. Raises ``ValueError`` for a malformed one."""
    if not day:
        return None
    chosen = date.fromisoformat(day)
    return datetime.combine(chosen + timedelta(days=1), time(0), tzinfo=CHINA_TIME)


@dataclass(frozen=True, slots=True)
class QueueRow:
    appeal_id: str
    state: str
    due: str
    days_left: str
    soon: bool
    member: str
    category: str
    amount: str
    grounds: str


def queue_row(language: Language, item: QueueItem, names: Mapping[str, str]) -> QueueRow:
    return QueueRow(
        appeal_id=item.appeal_id,
        state=state_words(language, item.state),
        due=language.moment(item.due),
        days_left=days_left_words(language, item.days_left),
        soon=item.days_left is not None and item.days_left <= 2,
        member=names.get(item.member, item.member),
        category=category_words(language, item.category),
        amount=language.money(item.amount_minor_units, item.currency),
        grounds=grounds_words(language, item.grounds),
    )


@dataclass(frozen=True, slots=True)
class Step:
    what: str
    at: str
    by: str


@dataclass(frozen=True, slots=True)
class CaseView:
    appeal_id: str
    state: str
    state_code: str
    grounds: str
    statement: str
    filed_at: str
    filed_via: str | None
    member_response_due: str
    decision_due: str
    days_left: str
    member_summary: str | None
    answered_at: str | None
    rationale: str | None
    closed_at: str | None
    report: Mapping[str, str]
    evidence_digest: str
    history: Sequence[Step]


def case_view(language: Language, view: Mapping[str, Any], now: datetime) -> CaseView:
    """An appeal as ``AppealCases.read`` answers a member or an adjudicator."""
    from refund_registry.domain.appeals import days_left
    from refund_registry.web.i18n import parse_time

    state = str(view["state"])
    due_text = {
        "awaiting_member": view.get("member_response_due"),
        "awaiting_adjudication": view.get("decision_due"),
    }.get(state)
    left = days_left(parse_time(due_text), now) if due_text else None
    report = view["report"]
    amount = report["amount"]
    filed_by = view.get("filed_by") or {}
    history = [
        Step(
            what=language.gettext(views.HISTORY[h["type"]])
            if h.get("type") in views.HISTORY
            else str(h.get("type", "")),
            at=language.moment(h.get("at")),
            by=language.gettext(ACTORS[h["by"]]) if h.get("by") in ACTORS else str(h.get("by", "")),
        )
        for h in view.get("history", [])
    ]
    return CaseView(
        appeal_id=str(view["appeal_id"]),
        state=state_words(language, state),
        state_code=state,
        grounds=grounds_words(language, str(view["grounds"])),
        statement=str(view.get("statement") or ""),
        filed_at=language.moment(view.get("filed_at")),
        filed_via=filed_by.get("member"),
        member_response_due=language.moment(view.get("member_response_due")),
        decision_due=language.moment(view.get("decision_due")),
        days_left=days_left_words(language, left),
        member_summary=view.get("member_summary"),
        answered_at=language.moment(view["answered_at"]) if view.get("answered_at") else None,
        rationale=view.get("decision_rationale"),
        closed_at=language.moment(view["closed_at"]) if view.get("closed_at") else None,
        report={
            "id": str(view["report_id"]),
            "member": str(report.get("member", "")),
            "category": category_words(language, str(report.get("category", ""))),
            "amount": language.money(int(amount["minor_units"]), str(amount["currency"])),
            "order_date": language.day(report.get("order_date")),
            "refund_date": language.day(report.get("refund_date")),
            "confirmed_at": language.moment(report.get("confirmed_at")),
            "case_reference": str(report.get("case_reference", "")),
            "status": str(report.get("status", "")),
        },
        evidence_digest=str(report.get("evidence_digest", "")),
        history=history,
    )
