"""The appeal state machine as a table: states, actions, roles and transitions.

A buyer contests one report; the report becomes ``disputed`` at once. The
reporting member answers (retract, or uphold with a summary of its evidence),
then an adjudicator decides. Silence past a deadline overturns the report: what
cannot be verified in time does not count. An appeal filed on new evidence
after an adjudicator upheld the report skips the member's answer (the member
already gave it) and starts at adjudication.

:data:`TABLE` is the whole machine; :func:`mermaid_diagram` renders it for
``docs/appeals.md``, and a test checks that the two match.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


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
    # Only after an adjudicator upheld the report, and only then (see limits.py).
    NEW_EVIDENCE = "new_evidence"


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

FIRST_STATE: Final[dict[bool, AppealState]] = {False: _AM, True: _AA}
"""The state a new appeal starts in, by whether it is filed on new evidence.

An appeal on new evidence contests a decision already taken: the member
answered the first appeal, its summary stands, and the adjudicator looks at
the report again.
"""

# Which of the appeal's due dates governs each open state (by field name, for
# labels; Appeal.current_due is the code path).
DUE_FIELD: Final[dict[AppealState, Literal["member_response_due", "decision_due"]]] = {
    _AM: "member_response_due",
    _AA: "decision_due",
}


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


def mermaid_diagram() -> str:
    """Render :data:`TABLE` as a Mermaid ``stateDiagram-v2`` (for docs/appeals.md).

    Each edge is labelled with the action, the role allowed to take it, the
    deadline guard where there is one and the effect on the report. The
    output is deterministic (table order), so a test can check the docs match.
    """
    lines = [
        "stateDiagram-v2",
        f"    [*] --> {FIRST_STATE[False].value}: buyer files, report disputed",
        f"    [*] --> {FIRST_STATE[True].value}: buyer files {Grounds.NEW_EVIDENCE.value} "
        "after an upheld decision, report disputed",
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
