"""The appeal state machine (SPEC section 6), as a pure table.

A buyer contests one report; the report becomes ``disputed`` at once. The
reporting member answers (retract, or uphold with a summary of its evidence),
then an adjudicator decides. Silence past a deadline overturns the report: what
cannot be verified in time does not count.

Everything here is pure: no I/O and no clock. ``now`` is always passed in so
that the worker's "as of" drills and the tests replay exactly what production
would do. This module only *decides*; the service layer persists the outcome
with a compare-and-set on the appeal's state (``UPDATE ... WHERE id = $1 AND
state = $2``) so that two concurrent transitions cannot both succeed
(CONVENTIONS habit 3).

What this module does not check, because it needs data it does not hold: that
the acting member is the one that filed the report, and that the buyer's
pseudonyms match the report's identifiers. The service layer does that before
calling :func:`transition`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal

from refund_registry.errors import Conflict, Forbidden, InvalidInput

__all__ = [
    "ACTION_ROLE",
    "DUE_FIELD",
    "OPENED_EVENT",
    "OPEN_STATES",
    "RATIONALE_MAX_CHARS",
    "REPORT_STATUS_AFTER",
    "STATEMENT_MAX_CHARS",
    "SUBJECT_STATEMENT_MAX_CHARS",
    "SUMMARY_MAX_CHARS",
    "TABLE",
    "TERMINAL_STATES",
    "ActorRole",
    "Appeal",
    "AppealAction",
    "AppealAlreadyOpen",
    "AppealState",
    "DeadlineNotDue",
    "DeadlinePassed",
    "DeadlinePolicy",
    "Grounds",
    "IllegalTransition",
    "InvalidGrounds",
    "InvalidStatement",
    "InvalidSummary",
    "ReportEffect",
    "ReportNotAppealable",
    "RoleNotAllowed",
    "Transition",
    "UnknownAction",
    "deadlines",
    "due_deadline",
    "mermaid_diagram",
    "open_appeal",
    "transition",
]


class AppealState(StrEnum):
    AWAITING_MEMBER = "awaiting_member"
    AWAITING_ADJUDICATION = "awaiting_adjudication"
    UPHELD = "upheld"
    OVERTURNED = "overturned"
    WITHDRAWN = "withdrawn"


class AppealAction(StrEnum):
    MEMBER_RETRACT = "member_retract"
    MEMBER_UPHOLD = "member_uphold"
    ADJUDICATOR_UPHELD = "adjudicator_upheld"
    ADJUDICATOR_OVERTURNED = "adjudicator_overturned"
    BUYER_WITHDRAW = "buyer_withdraw"
    # The worker's clock tick; legal only once the applicable deadline has passed.
    DEADLINE = "deadline"


class ActorRole(StrEnum):
    BUYER = "buyer"
    MEMBER = "member"
    ADJUDICATOR = "adjudicator"
    # The deadline worker; never a principal that can authenticate over HTTP.
    SYSTEM = "system"


class Grounds(StrEnum):
    NOT_ME = "not_me"
    GOODS_REALLY_DEFECTIVE = "goods_really_defective"
    ALREADY_RESOLVED = "already_resolved"
    OTHER = "other"


ReportEffect = Literal["overturned", "reinstated"]
"""What a transition does to the contested report (``None`` in a transition: nothing)."""

OPEN_STATES: Final = frozenset({AppealState.AWAITING_MEMBER, AppealState.AWAITING_ADJUDICATION})
TERMINAL_STATES: Final = frozenset(AppealState) - OPEN_STATES

OPENED_EVENT: Final = "appeal.opened"
"""Ledger event of :func:`open_appeal`; the report's status becomes ``disputed``."""

REPORT_STATUS_AFTER: Final[dict[ReportEffect, str]] = {
    "overturned": "overturned",
    # Back to where it was before the appeal: only an active report can be appealed.
    "reinstated": "active",
}
"""The report status each effect leads to (the report was ``disputed`` before)."""

STATEMENT_MAX_CHARS: Final = 2000
SUMMARY_MAX_CHARS: Final = 2000
RATIONALE_MAX_CHARS: Final = 2000
SUBJECT_STATEMENT_MAX_CHARS: Final = 200
"""A buyer's statement shown with the score after an appeal decided against them (SPEC 6)."""

_AM = AppealState.AWAITING_MEMBER
_AA = AppealState.AWAITING_ADJUDICATION
_UP = AppealState.UPHELD
_OV = AppealState.OVERTURNED
_WD = AppealState.WITHDRAWN

# The whole machine. A (state, action) pair absent from this table is illegal.
# Kept as a literal so that the docs (mermaid_diagram, docs/appeals.md) and the
# tests read the same source of truth as the code. The ``deadline`` rows carry
# a guard that a dict cannot express: the applicable due date must have passed
# (see DUE_FIELD).
TABLE: Final[
    dict[tuple[AppealState, AppealAction], tuple[AppealState, ReportEffect | None, str]]
] = {
    (_AM, AppealAction.MEMBER_RETRACT): (_OV, "overturned", "appeal.answered"),
    (_AM, AppealAction.MEMBER_UPHOLD): (_AA, None, "appeal.answered"),
    (_AM, AppealAction.BUYER_WITHDRAW): (_WD, "reinstated", "appeal.withdrawn"),
    (_AM, AppealAction.DEADLINE): (_OV, "overturned", "appeal.expired"),
    (_AA, AppealAction.ADJUDICATOR_UPHELD): (_UP, "reinstated", "appeal.decided"),
    (_AA, AppealAction.ADJUDICATOR_OVERTURNED): (_OV, "overturned", "appeal.decided"),
    (_AA, AppealAction.BUYER_WITHDRAW): (_WD, "reinstated", "appeal.withdrawn"),
    (_AA, AppealAction.DEADLINE): (_OV, "overturned", "appeal.expired"),
}

ACTION_ROLE: Final[dict[AppealAction, ActorRole]] = {
    AppealAction.MEMBER_RETRACT: ActorRole.MEMBER,
    AppealAction.MEMBER_UPHOLD: ActorRole.MEMBER,
    AppealAction.ADJUDICATOR_UPHELD: ActorRole.ADJUDICATOR,
    AppealAction.ADJUDICATOR_OVERTURNED: ActorRole.ADJUDICATOR,
    AppealAction.BUYER_WITHDRAW: ActorRole.BUYER,
    AppealAction.DEADLINE: ActorRole.SYSTEM,
}
"""The one role allowed to take each action."""

# Which of the appeal's due dates governs each open state (by field name, for
# labels; Appeal.current_due is the code path).
DUE_FIELD: Final[dict[AppealState, Literal["member_response_due", "decision_due"]]] = {
    _AM: "member_response_due",
    _AA: "decision_due",
}


# --- errors ----------------------------------------------------------------


class IllegalTransition(Conflict):
    """The action is not allowed in the appeal's current state (HTTP 409).

    ``extra["state"]`` carries the current state so the caller can resync.
    """

    code = "appeal.illegal_transition"
    title = "Illegal appeal transition"

    def __init__(self, detail: str, *, state: AppealState, **extra: object) -> None:
        super().__init__(detail, extra={"state": str(state), **extra})
        self.state = state


class DeadlinePassed(IllegalTransition):
    """A party acted after the deadline that governs the current state had passed.

    The deadline wins even when the worker has not ticked yet; otherwise the
    outcome would depend on a race between the party and the worker.
    ``extra["due"]`` is the passed deadline (ISO 8601).
    """

    code = "appeal.deadline_passed"
    title = "Appeal deadline passed"


class DeadlineNotDue(IllegalTransition):
    """The deadline tick arrived for an open appeal whose deadline has not passed yet."""

    code = "appeal.deadline_not_due"
    title = "Appeal deadline not due"


class AppealAlreadyOpen(Conflict):
    """The report is ``disputed``: it already has an open appeal."""

    code = "appeal.already_open"
    title = "Appeal already open"


class ReportNotAppealable(Conflict):
    """The report is not ``active`` (retracted, overturned, expired, ...): nothing to contest."""

    code = "appeal.report_not_appealable"
    title = "Report cannot be appealed"


class RoleNotAllowed(Forbidden):
    """The actor's role may never take this action, whatever the state."""

    code = "appeal.forbidden_role"
    title = "Role may not take this appeal action"


class UnknownAction(InvalidInput):
    code = "appeal.unknown_action"
    title = "Unknown appeal action"


class InvalidGrounds(InvalidInput):
    code = "appeal.invalid_grounds"
    title = "Invalid appeal grounds"


class InvalidStatement(InvalidInput):
    code = "appeal.statement_length"
    title = "Appeal statement length"


class InvalidSummary(InvalidInput):
    """The member upheld without a usable summary; ``code`` says which rule was broken."""

    code = "appeal.summary_length"
    title = "Evidence summary length"


# --- data --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """How long each party has, in days measured from the moment of filing.

    Days are elapsed 24-hour periods from the filing instant, not calendar or
    working days, so the due instants do not depend on a time zone. The
    defaults follow the Chinese rule (征信业管理条例, art. 25) that an
    objection is checked and answered within 20 days of receipt.

    Precondition: ``0 < member_response_days < decision_days``; the member must
    answer strictly before the decision is due, or the adjudicator would have
    no time at all. Violations raise ``ValueError`` at configuration time.
    """

    member_response_days: int = 10
    decision_days: int = 20

    def __post_init__(self) -> None:
        if not 0 < self.member_response_days < self.decision_days:
            raise ValueError(
                "DeadlinePolicy needs 0 < member_response_days < decision_days, got "
                f"{self.member_response_days} and {self.decision_days}"
            )


@dataclass(frozen=True, slots=True)
class Appeal:
    """One appeal as the domain sees it.

    The due dates are fixed at filing and stored with the appeal, so that a
    later change of :class:`DeadlinePolicy` never moves the goalposts of an
    appeal already running.
    """

    state: AppealState
    grounds: Grounds
    statement: str
    filed_at: datetime
    member_response_due: datetime
    decision_due: datetime

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def current_due(self) -> datetime | None:
        """The deadline governing the current state; ``None`` once the appeal is closed."""
        if self.state is AppealState.AWAITING_MEMBER:
            return self.member_response_due
        if self.state is AppealState.AWAITING_ADJUDICATION:
            return self.decision_due
        return None


@dataclass(frozen=True, slots=True)
class Transition:
    """The decision for one action: where the appeal goes and what follows from it.

    ``report_effect`` tells the service what to do to the report in the same
    transaction (see :data:`REPORT_STATUS_AFTER`); ``event_type`` names the
    ledger event to append.
    """

    new_state: AppealState
    report_effect: ReportEffect | None
    event_type: str


# --- behaviour ---------------------------------------------------------------


def _require_aware(name: str, value: datetime) -> None:
    # Comparing naive and aware datetimes raises deep inside a comparison; a
    # naive one reaching the domain is a bug in the caller, so say so plainly.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def deadlines(filed_at: datetime, policy: DeadlinePolicy) -> tuple[datetime, datetime]:
    """Return ``(member_response_due, decision_due)`` for an appeal filed at ``filed_at``.

    Both are measured from filing (not from the member's answer), so the
    buyer's total wait is bounded by ``decision_days`` whatever the member
    does. Precondition: ``filed_at`` is timezone-aware.
    """
    _require_aware("filed_at", filed_at)
    return (
        filed_at + timedelta(days=policy.member_response_days),
        filed_at + timedelta(days=policy.decision_days),
    )


def open_appeal(
    report_status: str,
    grounds: str,
    statement: str,
    filed_at: datetime,
    policy: DeadlinePolicy,
) -> Appeal:
    """Validate a buyer's appeal against a report in ``report_status`` and open it.

    The new appeal is ``awaiting_member``; the caller records
    :data:`OPENED_EVENT` and sets the report to ``disputed`` in the same
    transaction, with a compare-and-set on the report still being ``active``.

    Only an ``active`` report can be appealed: a ``disputed`` one already has an
    open appeal (:class:`AppealAlreadyOpen`), and a retracted, overturned or
    expired one no longer counts (:class:`ReportNotAppealable`). The state is
    checked before the input, because no rewording of the statement would make
    such an appeal acceptable.

    The statement must hold 1–2000 characters (Unicode code points) and not be
    blank; it is stored as given. Precondition: ``filed_at`` is timezone-aware.
    """
    if report_status == "disputed":
        raise AppealAlreadyOpen(
            "This report already has an open appeal.", extra={"report_status": report_status}
        )
    if report_status != "active":
        raise ReportNotAppealable(
            f"Only an active report can be appealed; this one is {report_status!r}.",
            extra={"report_status": report_status},
        )
    try:
        parsed_grounds = Grounds(grounds)
    except ValueError:
        raise InvalidGrounds(
            f"Grounds must be one of {', '.join(g.value for g in Grounds)}.",
            extra={"allowed": [g.value for g in Grounds]},
        ) from None
    # A whitespace-only statement says nothing to the member or the adjudicator.
    if not statement.strip() or len(statement) > STATEMENT_MAX_CHARS:
        raise InvalidStatement(
            f"The statement must be 1 to {STATEMENT_MAX_CHARS} characters and not blank.",
            extra={"max_chars": STATEMENT_MAX_CHARS, "length": len(statement)},
        )
    member_response_due, decision_due = deadlines(filed_at, policy)
    return Appeal(
        state=AppealState.AWAITING_MEMBER,
        grounds=parsed_grounds,
        statement=statement,
        filed_at=filed_at,
        member_response_due=member_response_due,
        decision_due=decision_due,
    )


def due_deadline(appeal: Appeal, now: datetime) -> bool:
    """Whether the deadline governing the appeal's current state has passed at ``now``.

    True exactly when a ``deadline`` tick at ``now`` would overturn the report;
    always false for a closed appeal. The boundary belongs to the deadline:
    at ``now == due`` it has passed.
    """
    _require_aware("now", now)
    due = appeal.current_due
    return due is not None and now >= due


def _validate_summary(summary: str | None) -> None:
    # An uphold without reasons leaves the adjudicator nothing to weigh against
    # the buyer's statement; the evidence itself never leaves the member.
    if summary is None or not summary.strip():
        raise InvalidSummary(
            "Upholding a report needs a summary of the member's evidence.",
            code="appeal.summary_required",
            extra={"max_chars": SUMMARY_MAX_CHARS},
        )
    if len(summary) > SUMMARY_MAX_CHARS:
        raise InvalidSummary(
            f"The evidence summary must be at most {SUMMARY_MAX_CHARS} characters.",
            extra={"max_chars": SUMMARY_MAX_CHARS, "length": len(summary)},
        )


def check_rationale(rationale: str) -> None:
    """An adjudicator's decision states why (PIPL art. 24: a right to an explanation)."""
    if not rationale.strip() or len(rationale) > RATIONALE_MAX_CHARS:
        raise InvalidInput(
            f"the rationale must be 1 to {RATIONALE_MAX_CHARS} characters and not blank",
            code="appeal.rationale_length",
            extra={"max_chars": RATIONALE_MAX_CHARS, "length": len(rationale)},
        )


def check_subject_statement(statement: str | None) -> None:
    """A buyer's statement: 1 to 200 characters, not blank; ``None`` removes it."""
    if statement is not None and (
        not statement.strip() or len(statement) > SUBJECT_STATEMENT_MAX_CHARS
    ):
        raise InvalidInput(
            f"the statement must be 1 to {SUBJECT_STATEMENT_MAX_CHARS} characters "
            "and not blank (send null to remove it)",
            code="subject.statement_length",
            extra={"max_chars": SUBJECT_STATEMENT_MAX_CHARS, "length": len(statement)},
        )


def transition(
    appeal: Appeal,
    action: AppealAction | str,
    actor_role: ActorRole | str,
    now: datetime,
    *,
    summary: str | None = None,
) -> Transition:
    """Decide what ``action`` by an actor of ``actor_role`` at ``now`` does to ``appeal``.

    Checks run from the most to the least fundamental, and the first failure
    is raised:

    1. the action exists (:class:`UnknownAction`) and the role is the one
       allowed to take it (:class:`RoleNotAllowed`), whatever the state;
    2. the (state, action) pair is in :data:`TABLE` (:class:`IllegalTransition`);
    3. the clock: a ``deadline`` tick needs the governing deadline to have
       passed (:class:`DeadlineNotDue`); every other action needs it *not* to
       have passed (:class:`DeadlinePassed`). The deadline wins: a member
       answering, an adjudicator deciding or a buyer withdrawing at or after
       the due instant is refused even if the worker has not ticked yet, so the
       outcome never depends on who reached the database first. (A late
       withdrawal would only reinstate a report that is about to be
       overturned.)
    4. the payload: ``member_uphold`` needs a non-blank ``summary`` of at most
       2000 characters (:class:`InvalidSummary`); ``summary`` is ignored for
       other actions.

    Preconditions: ``now`` is timezone-aware; the caller has checked that the
    actor is *the* reporting member or *the* buyer concerned, not just any
    principal with that role. Nothing is mutated: persist ``new_state`` with a
    compare-and-set on ``appeal.state``.
    """
    _require_aware("now", now)
    try:
        act = AppealAction(action)
    except ValueError:
        raise UnknownAction(
            f"Unknown appeal action {action!r}.",
            extra={"allowed": [a.value for a in AppealAction]},
        ) from None
    allowed_role = ACTION_ROLE[act]
    if actor_role != allowed_role:
        raise RoleNotAllowed(
            f"Only the {allowed_role.value} may take the action {act.value}.",
            extra={"action": act.value, "role": str(actor_role)},
        )

    row = TABLE.get((appeal.state, act))
    if row is None:
        raise IllegalTransition(
            f"An appeal in state {appeal.state.value} does not allow {act.value}.",
            state=appeal.state,
        )

    # An open state always has a governing deadline (every row of TABLE starts
    # from an open state), so `due` is set here.
    due = appeal.current_due
    assert due is not None
    if act is AppealAction.DEADLINE:
        if now < due:
            raise DeadlineNotDue(
                f"The {appeal.state.value} deadline is not due until {due.isoformat()}.",
                state=appeal.state,
                due=due.isoformat(),
            )
    elif now >= due:
        raise DeadlinePassed(
            f"The deadline for this step passed at {due.isoformat()}; "
            "the appeal is overturned by default.",
            state=appeal.state,
            due=due.isoformat(),
        )

    if act is AppealAction.MEMBER_UPHOLD:
        _validate_summary(summary)

    new_state, effect, event_type = row
    return Transition(new_state=new_state, report_effect=effect, event_type=event_type)


def mermaid_diagram() -> str:
    """Render :data:`TABLE` as a Mermaid ``stateDiagram-v2`` (for docs/appeals.md).

    Each edge is labelled with the action, the role allowed to take it, the
    deadline guard where there is one and the effect on the report. The
    output is deterministic (table order), so a test can check the docs match.
    """
    lines = [
        "stateDiagram-v2",
        f"    [*] --> {_AM.value}: buyer files, report disputed",
    ]
    for (state, act), (new_state, effect, _event) in TABLE.items():
        label = f"{act.value} by {ACTION_ROLE[act].value}"
        if act is AppealAction.DEADLINE:
            label += f" once now ≥ {DUE_FIELD[state]}"
        if effect is not None:
            label += f", report {effect}"
        lines.append(f"    {state.value} --> {new_state.value}: {label}")
    lines.extend(f"    {s.value} --> [*]" for s in AppealState if s in TERMINAL_STATES)
    return "\n".join(lines) + "\n"
