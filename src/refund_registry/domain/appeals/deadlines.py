"""Appeal deadlines: how long each party has, and whether the governing one has passed.

Time is always passed in (``now``, ``filed_at``), so the worker's "as of"
drills and the tests replay exactly what production would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from refund_registry.domain.appeals.states import OPEN_STATES, AppealState, Grounds

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """How long each party has, in days measured from the moment of filing, and
    how long a buyer who withdrew waits before appealing the same report again.

    Days are elapsed 24-hour periods from the filing instant, not calendar or
    working days, so the due instants do not depend on a time zone. The
    defaults follow the Chinese rule (征信业管理条例, art. 25) that an
    objection is checked and answered within 20 days of receipt.

    ``withdrawal_wait_days`` is counted from the withdrawal: without it a buyer
    could keep a report disputed (and so weighing less) for ever by filing and
    withdrawing in turn, each appeal ending just before its member deadline.

    Precondition: ``0 < member_response_days < decision_days``; the member must
    answer strictly before the decision is due, or the adjudicator would have
    no time at all; and ``withdrawal_wait_days >= 0``. Violations raise
    ``ValueError`` at configuration time.
    """

    member_response_days: int = 10
    decision_days: int = 20
    withdrawal_wait_days: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.member_response_days < self.decision_days:
            raise ValueError(
                "DeadlinePolicy needs 0 < member_response_days < decision_days, got "
                f"{self.member_response_days} and {self.decision_days}"
            )
        if self.withdrawal_wait_days < 0:
            raise ValueError(
                f"DeadlinePolicy needs withdrawal_wait_days >= 0, got {self.withdrawal_wait_days}"
            )


@dataclass(frozen=True, slots=True)
class Appeal:
    """One appeal as the domain sees it.

    The due dates are fixed at filing and stored with the appeal, so that a
    later change of :class:`DeadlinePolicy` never moves the goalposts of an
    appeal already running. ``member_response_due`` is ``None`` exactly for an
    appeal filed on new evidence: it starts at adjudication, and the member
    has nothing to answer.
    """

    state: AppealState
    grounds: Grounds
    statement: str
    filed_at: datetime
    member_response_due: datetime | None
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


def require_aware(name: str, value: datetime) -> None:
    """Refuse a naive ``value`` with a ``ValueError`` naming ``name``."""
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
    require_aware("filed_at", filed_at)
    return (
        filed_at + timedelta(days=policy.member_response_days),
        filed_at + timedelta(days=policy.decision_days),
    )


def due_deadline(appeal: Appeal, now: datetime) -> bool:
    """Whether the deadline governing the appeal's current state has passed at ``now``.

    True exactly when a ``deadline`` tick at ``now`` would overturn the report;
    always false for a closed appeal. The boundary belongs to the deadline:
    at ``now == due`` it has passed.
    """
    require_aware("now", now)
    due = appeal.current_due
    return due is not None and now >= due


def days_left(due: datetime | None, now: datetime) -> int | None:
    """Whole days until ``due`` at ``now``, a part of a day counting as one; ``None``
    without a deadline (a closed appeal).

    Positive exactly while the deadline is ahead, so that it agrees with
    :func:`due_deadline` (at ``now == due`` the deadline has passed: 0); ``-n``
    once it passed at least ``n`` days ago. Precisely, with ``d`` the answer:
    ``(d - 1) days < due - now <= d days``. Computed on whole microseconds, so
    no rounding of floating point can move a boundary. Precondition: both
    times are timezone-aware.
    """
    require_aware("now", now)
    if due is None:
        return None
    require_aware("due", due)
    return -((now - due) // DAY)
