"""A plain restatement of the rules for opening an appeal, for tests only.

Written from the rules in ``docs/appeals.md`` ("Opening an appeal",
"Appealing the same report again"), not from ``domain.appeals``, so that the
unit tests and the stateful model of the appeal machine can check the domain
against an independent reading of the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from refund_registry.domain.appeals import (
    AppealAlreadyOpen,
    AppealState,
    DeadlinePolicy,
    Grounds,
    InvalidGrounds,
    InvalidStatement,
    NeedsNewEvidence,
    NoPreviousDecision,
    PastAppeal,
    ReportNotAppealable,
    WithdrawnRecently,
)

S = AppealState
OLD_GROUNDS = [g.value for g in Grounds if g is not Grounds.NEW_EVIDENCE]
"""The grounds of a first appeal (everything but ``new_evidence``)."""

Outcome = type[Exception] | AppealState


def expected_opening(
    report_status: str,
    grounds: str,
    statement: str,
    now: datetime,
    policy: DeadlinePolicy,
    previous: Sequence[PastAppeal],
) -> Outcome:
    """What opening an appeal must do: an error class, or the state it starts in.

    A deliberately plain restatement of the rules, in the order they apply:
    what only waiting can cure before what the buyer could fix.
    """
    if report_status == "disputed":
        return AppealAlreadyOpen
    if report_status != "active":
        return ReportNotAppealable
    if any(p.state in (S.AWAITING_MEMBER, S.AWAITING_ADJUDICATION) for p in previous):
        return AppealAlreadyOpen
    withdrawals = [p.closed_at for p in previous if p.state is S.WITHDRAWN and p.closed_at]
    if withdrawals and now < max(withdrawals) + timedelta(days=policy.withdrawal_wait_days):
        return WithdrawnRecently
    if grounds not in {*OLD_GROUNDS, "new_evidence"}:
        return InvalidGrounds
    decided = any(p.state is S.UPHELD for p in previous)
    if decided and grounds != "new_evidence":
        return NeedsNewEvidence
    if not decided and grounds == "new_evidence":
        return NoPreviousDecision
    if not statement.strip() or len(statement) > 2000:
        return InvalidStatement
    return S.AWAITING_ADJUDICATION if grounds == "new_evidence" else S.AWAITING_MEMBER
