"""The appeal machine's decisions: opening an appeal and deciding one action on it.

Everything here is pure: no I/O and no clock. ``now`` is always passed in so
that the worker's "as of" drills and the tests replay exactly what production
would do. This module only *decides*; the service layer persists the outcome
with a compare-and-set on the appeal's state (the UPDATE names the state it
read) so that two concurrent transitions cannot both succeed.

What this module does not check, because it needs data it does not hold: that
the acting member is the one that filed the report, and that the buyer's
pseudonyms match the report's identifiers. The service layer does that before
calling :func:`transition`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from refund_registry.domain.appeals.deadlines import (
    Appeal,
    DeadlinePolicy,
    deadlines,
    require_aware,
)
from refund_registry.domain.appeals.errors import (
    AppealAlreadyOpen,
    DeadlineNotDue,
    DeadlinePassed,
    IllegalTransition,
    InvalidGrounds,
    ReportNotAppealable,
    RoleNotAllowed,
    UnknownAction,
)
from refund_registry.domain.appeals.limits import PastAppeal, check_grounds, check_waiting
from refund_registry.domain.appeals.states import (
    ACTION_ROLE,
    FIRST_STATE,
    TABLE,
    ActorRole,
    AppealAction,
    Grounds,
    Transition,
)
from refund_registry.domain.appeals.texts import check_statement, validate_summary


def open_appeal(
    report_status: str,
    grounds: str,
    statement: str,
    filed_at: datetime,
    policy: DeadlinePolicy,
    *,
    previous: Sequence[PastAppeal],
) -> Appeal:
    """Validate a buyer's appeal against a report in ``report_status`` and open it.

    ``previous`` are the report's earlier appeals (any order). The caller
    records ``OPENED_EVENT`` and sets the report to ``disputed`` in the same
    transaction, with a compare-and-set on the report still being ``active``.

    Checks, the first failure raised; what only waiting could cure comes
    before what the buyer could fix by rewording:

    1. only an ``active`` report can be appealed: a ``disputed`` one already
       has an open appeal (:class:`AppealAlreadyOpen`), and a retracted,
       overturned or expired one no longer counts (:class:`ReportNotAppealable`);
    2. no earlier appeal is open, and the wait after the latest withdrawal
       has passed (:class:`WithdrawnRecently`; ``limits.check_waiting``);
    3. the grounds are known (:class:`InvalidGrounds`), and allowed by the
       earlier appeals: after a decision only ``new_evidence``
       (:class:`NeedsNewEvidence`), never ``new_evidence`` without one
       (:class:`NoPreviousDecision`);
    4. the statement holds 1–2000 characters (Unicode code points) and is not
       blank; it is stored as given.

    The new appeal is ``awaiting_member`` with both deadlines counted from
    ``filed_at``; on ``new_evidence`` it is ``awaiting_adjudication``, with
    no member deadline and the decision due ``decision_days`` after this
    filing. Precondition: ``filed_at`` is timezone-aware.
    """
    require_aware("filed_at", filed_at)
    if report_status == "disputed":
        raise AppealAlreadyOpen(
            "This report already has an open appeal.", extra={"report_status": report_status}
        )
    if report_status != "active":
        raise ReportNotAppealable(
            f"Only an active report can be appealed; this one is {report_status!r}.",
            extra={"report_status": report_status},
        )
    check_waiting(previous, filed_at, policy)
    try:
        parsed_grounds = Grounds(grounds)
    except ValueError:
        raise InvalidGrounds(
            f"Grounds must be one of {', '.join(g.value for g in Grounds)}.",
            extra={"allowed": [g.value for g in Grounds]},
        ) from None
    check_grounds(previous, parsed_grounds)
    check_statement(statement)
    member_response_due, decision_due = deadlines(filed_at, policy)
    on_new_evidence = parsed_grounds is Grounds.NEW_EVIDENCE
    return Appeal(
        state=FIRST_STATE[on_new_evidence],
        grounds=parsed_grounds,
        statement=statement,
        filed_at=filed_at,
        member_response_due=None if on_new_evidence else member_response_due,
        decision_due=decision_due,
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
    require_aware("now", now)
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
        validate_summary(summary)

    new_state, effect, event_type = row
    return Transition(new_state=new_state, report_effect=effect, event_type=event_type)
