"""The appeal machine's refusals, each with a stable ``code`` and its HTTP status."""

from __future__ import annotations

from refund_registry.domain.appeals.states import AppealState
from refund_registry.errors import Conflict, Forbidden, InvalidInput


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


class WithdrawnRecently(Conflict):
    """The buyer withdrew an appeal on this report too recently to appeal it again.

    ``extra["possible_from"]`` is the instant from which a new appeal is
    accepted (RFC 3339, UTC); ``extra["withdrawn_at"]`` the withdrawal it is
    counted from.
    """

    code = "appeal.withdrawn_recently"
    title = "Appeal withdrawn recently"


class NeedsNewEvidence(InvalidInput):
    """An adjudicator upheld this report on an earlier appeal: only new evidence reopens it."""

    code = "appeal.needs_new_evidence"
    title = "New evidence needed"


class NoPreviousDecision(InvalidInput):
    """``new_evidence`` contests a decision, and no appeal on this report was decided."""

    code = "appeal.no_previous_decision"
    title = "No previous decision"


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
