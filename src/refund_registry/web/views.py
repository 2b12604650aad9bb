"""A buyer's record in plain words: what each page shows, built from the service's answers.

The services answer in the API's vocabulary (``ai_forged_evidence``,
``refund_decision``, ISO timestamps, amounts in minor units); a buyer reads
sentences. Everything here is a pure function of that answer, the page's
:class:`~refund_registry.web.i18n.Language` and the current time, so the
pages can be tested from a dictionary of the documented shape.

Deadlines count down on the server: the page says how many whole days are
left when it is rendered, and works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from refund_registry.web.i18n import N_, Language, parse_time

CATEGORIES: Final[Mapping[str, str]] = {
    "ai_forged_evidence": N_("Forged or AI-generated evidence (photos, videos, chats)"),
    "fabricated_damage_claim": N_("Claimed damage that did not exist"),
    "empty_box_or_switched_return": N_("Returned an empty box or different goods"),
    "false_not_received_claim": N_("Claimed the parcel never arrived, but it did"),
    "refund_only_abuse": N_("Asked for a refund while keeping the goods"),
    "chargeback_fraud": N_("Disputed a card payment for goods received"),
    "other": N_("Another kind of refund fraud"),
}

PURPOSES: Final[Mapping[str, str]] = {
    "refund_decision": N_("Deciding on a refund request"),
    "account_review": N_("Reviewing your account"),
    "chargeback_review": N_("Reviewing a payment dispute"),
    "fraud_investigation": N_("Investigating suspected fraud"),
    "appeal_handling": N_("Handling your appeal"),
    "subject_access": N_("Showing you your record"),
}

REPORT_STATUSES: Final[Mapping[str, tuple[str, str]]] = {
    # status: (words, what it means for the buyer); the second part explains the first.
    "active": (N_("Active"), N_("Platforms that check your record see this report.")),
    "disputed": (
        N_("Under appeal"),
        N_("You have appealed. Platforms see that it is contested, and it weighs less."),
    ),
    "retracted": (N_("Withdrawn by the shop"), N_("It no longer counts against you.")),
    "overturned": (N_("Overturned"), N_("It no longer counts against you.")),
    "expired": (N_("Expired"), N_("It is past its retention period and no longer counts.")),
}

APPEAL_STATES: Final[Mapping[str, str]] = {
    "awaiting_member": N_("Waiting for the shop's answer"),
    "awaiting_adjudication": N_("Waiting for an independent adjudicator"),
    "upheld": N_("Decided: the report stands"),
    "overturned": N_("Decided in your favour: the report no longer counts"),
    "withdrawn": N_("You withdrew this appeal"),
}

GROUNDS: Final[Sequence[tuple[str, str, str]]] = (
    # (value, label, explanation): the buyer chooses one; the order is the form's.
    (
        "not_me",
        N_("It was not me"),
        N_("You did not place this order or ask for this refund."),
    ),
    (
        "goods_really_defective",
        N_("The goods really were faulty"),
        N_("The goods arrived damaged, faulty or incomplete, as you told the shop."),
    ),
    (
        "already_resolved",
        N_("We already settled it"),
        N_("You and the shop resolved the matter, for example by returning the goods."),
    ),
    (
        "other",
        N_("Another reason"),
        N_("Anything else. Explain it in your statement."),
    ),
    (
        "new_evidence",
        N_("I have new evidence"),
        N_(
            "Only after an adjudicator upheld this report: you have evidence the adjudicator "
            "did not see. Describe it in your statement."
        ),
    ),
)
GROUND_VALUES: Final = frozenset(value for value, _, _ in GROUNDS)

HISTORY: Final[Mapping[str, str]] = {
    "appeal.opened": N_("Appeal filed"),
    "report.disputed": N_("Report marked as under appeal"),
    "appeal.answered": N_("The shop answered"),
    "appeal.decided": N_("The adjudicator decided"),
    "appeal.withdrawn": N_("Appeal withdrawn"),
    "appeal.expired": N_("A deadline passed without an answer"),
    "appeal.closed": N_("Appeal closed: the report no longer counts"),
    "report.overturned": N_("Report overturned"),
    "report.reinstated": N_("Report counts again"),
    "report.retracted": N_("The shop withdrew the report"),
    "report.expired": N_("Report expired"),
}

ACTORS: Final[Mapping[str, str]] = {
    "buyer": N_("you"),
    "member": N_("the shop"),
    "adjudicator": N_("the adjudicator"),
    "system": N_("the registry"),
}

STATEMENT_MAX: Final = 200
APPEAL_STATEMENT_MAX: Final = 2000


def grounds_for(record: RecordView, report_id: str) -> list[tuple[str, str, str]]:
    """The grounds a buyer can choose on this report: only new evidence once an
    adjudicator upheld it, and everything but new evidence before."""
    decided = any(a.report_id == report_id and a.state_code == "upheld" for a in record.appeals)
    return [g for g in GROUNDS if (g[0] == "new_evidence") == decided]


def length(text: str) -> int:
    """Characters as the registry counts them: Unicode code points (一 is one)."""
    return len(text)


@dataclass(frozen=True, slots=True)
class Deadline:
    """One deadline as a buyer reads it: when, and how long is left."""

    label: str
    at: str
    left: str
    passed: bool
    days: int


def deadline(language: Language, label: str, due: str | None, now: datetime) -> Deadline | None:
    """Whole days left until ``due`` at ``now``; less than a day is said so, not rounded up."""
    if due is None:
        return None
    when = parse_time(due)
    remaining = when - now
    if remaining <= timedelta(0):
        return Deadline(label, language.moment(when), language.gettext("Passed"), True, 0)
    days = remaining.days
    if days == 0:
        left = language.gettext("Less than a day left")
    else:
        left = language.ngettext("%(num)d day left", "%(num)d days left", days)
    return Deadline(label, language.moment(when), left, False, days)


@dataclass(frozen=True, slots=True)
class ReportView:
    report_id: str
    platform: str
    category: str
    amount: str
    order_date: str
    refund_date: str
    confirmed_at: str
    status: str
    status_code: str
    status_meaning: str
    expires_at: str
    counts: bool
    appealable: bool
    open_appeal: str | None


@dataclass(frozen=True, slots=True)
class InquiryView:
    platform: str
    purpose: str
    at: str
    how: str


@dataclass(frozen=True, slots=True)
class AppealView:
    appeal_id: str
    report_id: str
    platform: str
    state: str
    state_code: str
    is_open: bool
    grounds: str
    filed_at: str
    deadlines: list[Deadline] = field(default_factory=list)
    closed_at: str | None = None


def report_view(language: Language, row: Mapping[str, Any], appeals: Sequence[Any]) -> ReportView:
    status = str(row["status"])
    words, meaning = REPORT_STATUSES.get(status, (status, ""))
    category = str(row["category"])
    open_appeal = next(
        (
            a["appeal_id"]
            for a in appeals
            if a["report_id"] == row["report_id"]
            and a["state"] in ("awaiting_member", "awaiting_adjudication")
        ),
        None,
    )
    return ReportView(
        report_id=str(row["report_id"]),
        platform=str(row["member"]),
        category=language.gettext(CATEGORIES[category]) if category in CATEGORIES else category,
        amount=language.money(int(row["amount"]["minor_units"]), str(row["amount"]["currency"])),
        order_date=language.day(row.get("order_date")),
        refund_date=language.day(row.get("refund_date")),
        confirmed_at=language.day(row.get("confirmed_at")),
        status=language.gettext(words),
        status_code=status,
        status_meaning=language.gettext(meaning) if meaning else "",
        expires_at=language.day(row.get("expires_at")),
        counts=status in ("active", "disputed"),
        appealable=status == "active",
        open_appeal=open_appeal,
    )


def inquiry_view(language: Language, row: Mapping[str, Any]) -> InquiryView:
    """One look at the record: a platform's risk query, or the buyer's own look through a
    link that platform gave them (which the registry counts as that platform's look)."""
    purpose = str(row.get("purpose") or "")
    how = str(row.get("how") or "query")
    if how == "via_member":
        how_words = language.gettext("You, through this platform's link")
    else:
        how_words = language.gettext("Risk check by the platform")
    return InquiryView(
        platform=str(row.get("member") or ""),
        purpose=language.gettext(PURPOSES[purpose]) if purpose in PURPOSES else purpose,
        at=language.moment(row.get("at")),
        how=how_words,
    )


def appeal_view(
    language: Language, row: Mapping[str, Any], platforms: Mapping[str, str], now: datetime
) -> AppealView:
    state = str(row["state"])
    is_open = state in ("awaiting_member", "awaiting_adjudication")
    deadlines: list[Deadline] = []
    if is_open:
        if state == "awaiting_member":
            shop = deadline(
                language,
                language.gettext("The shop must answer by"),
                row.get("member_response_due"),
                now,
            )
            if shop is not None:
                deadlines.append(shop)
        decision = deadline(
            language, language.gettext("A decision is due by"), row.get("decision_due"), now
        )
        if decision is not None:
            deadlines.append(decision)
    grounds = str(row.get("grounds") or "")
    label = next((lab for value, lab, _ in GROUNDS if value == grounds), grounds)
    return AppealView(
        appeal_id=str(row["appeal_id"]),
        report_id=str(row["report_id"]),
        platform=platforms.get(str(row["report_id"]), ""),
        state=language.gettext(APPEAL_STATES[state]) if state in APPEAL_STATES else state,
        state_code=state,
        is_open=is_open,
        grounds=language.gettext(label) if label else "",
        filed_at=language.moment(row.get("filed_at")),
        deadlines=deadlines,
        closed_at=language.moment(row["closed_at"]) if row.get("closed_at") else None,
    )


@dataclass(frozen=True, slots=True)
class Step:
    what: str
    at: str
    by: str


def timeline(language: Language, history: Sequence[Mapping[str, Any]]) -> list[Step]:
    """The appeal's history as steps a buyer can follow, oldest first."""
    steps: list[Step] = []
    for item in history:
        kind = str(item.get("type", ""))
        what = language.gettext(HISTORY[kind]) if kind in HISTORY else kind
        actor = str(item.get("by", ""))
        by = language.gettext(ACTORS[actor]) if actor in ACTORS else actor
        steps.append(Step(what=what, at=language.moment(item.get("at")), by=by))
    return steps


@dataclass(frozen=True, slots=True)
class RecordView:
    reports: list[ReportView]
    inquiries: list[InquiryView]
    appeals: list[AppealView]
    statement: str | None
    counting: int


def record_view(language: Language, record: Mapping[str, Any], now: datetime) -> RecordView:
    """The whole record of ``SubjectAccess.record`` as the pages show it."""
    appeals = list(record.get("appeals") or [])
    reports = [report_view(language, r, appeals) for r in record.get("reports") or []]
    platforms = {r.report_id: r.platform for r in reports}
    return RecordView(
        reports=reports,
        inquiries=[inquiry_view(language, i) for i in record.get("inquiries") or []],
        appeals=[appeal_view(language, a, platforms, now) for a in appeals],
        statement=record.get("statement"),
        counting=sum(1 for r in reports if r.counts),
    )


def mask(kind: str, value: str) -> str:
    """An identifier shown back to its owner with most of it hidden: 138****5678, a***@qq.com."""
    text = value.strip()
    if kind == "email" and "@" in text:
        local, _, domain = text.rpartition("@")
        return f"{local[:1]}***@{domain}"
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "***"
