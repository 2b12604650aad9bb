"""The appeal state machine, as a pure table.

``states`` holds the table and its diagram, ``deadlines`` the due dates,
``texts`` the limits on statements, summaries and rationales, ``errors`` the
refusals, and ``decisions`` opens appeals and decides each action.
"""

from refund_registry.domain.appeals.deadlines import (
    Appeal,
    DeadlinePolicy,
    deadlines,
    due_deadline,
)
from refund_registry.domain.appeals.decisions import open_appeal, transition
from refund_registry.domain.appeals.errors import (
    AppealAlreadyOpen,
    DeadlineNotDue,
    DeadlinePassed,
    IllegalTransition,
    InvalidGrounds,
    InvalidStatement,
    InvalidSummary,
    ReportNotAppealable,
    RoleNotAllowed,
    UnknownAction,
)
from refund_registry.domain.appeals.states import (
    ACTION_ROLE,
    DUE_FIELD,
    OPEN_STATES,
    OPENED_EVENT,
    REPORT_STATUS_AFTER,
    TABLE,
    TERMINAL_STATES,
    ActorRole,
    AppealAction,
    AppealState,
    Grounds,
    ReportEffect,
    Transition,
    mermaid_diagram,
)
from refund_registry.domain.appeals.texts import (
    RATIONALE_MAX_CHARS,
    STATEMENT_MAX_CHARS,
    SUBJECT_STATEMENT_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    check_rationale,
    check_subject_statement,
)

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
    "check_rationale",
    "check_subject_statement",
    "deadlines",
    "due_deadline",
    "mermaid_diagram",
    "open_appeal",
    "transition",
]
