"""What earlier appeals on the same report allow: the limits on appealing again.

A report has at most one open appeal at a time (its ``disputed`` status says
so). Once an appeal has ended with the report active again, a new one is
possible, within limits:

- after a *decision* (an adjudicator upheld the report), only new evidence
  reopens it: grounds ``new_evidence``, and the new appeal goes straight to
  an adjudicator, because the member already answered and its summary stands;
- after a *withdrawal*, the buyer waits ``DeadlinePolicy.withdrawal_wait_days``
  (30 by default) from the withdrawal, so that filing and withdrawing in turn
  cannot keep a report disputed for ever;
- ``new_evidence`` on a report never decided is refused: there is no decision
  to bring new evidence against, and the member has not answered yet.

Pure: the caller loads the report's earlier appeals (:class:`PastAppeal`) and
passes the filing time in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from refund_registry.domain.appeals.deadlines import DeadlinePolicy
from refund_registry.domain.appeals.errors import (
    AppealAlreadyOpen,
    NeedsNewEvidence,
    NoPreviousDecision,
    WithdrawnRecently,
)
from refund_registry.domain.appeals.states import OPEN_STATES, AppealState, Grounds
from refund_registry.domain.wire import iso


@dataclass(frozen=True, slots=True)
class PastAppeal:
    """An earlier appeal on the same report, as far as the limits care.

    ``closed_at`` is when it ended (``None`` while it is open).
    """

    id: str
    state: AppealState
    filed_at: datetime
    closed_at: datetime | None


def standing_decision(previous: Sequence[PastAppeal]) -> PastAppeal | None:
    """The latest appeal on the report that an adjudicator decided ``upheld``, if any.

    Its member summary is the one that stands for an appeal on new evidence.
    (An appeal decided ``overturned`` leaves nothing to appeal: the report no
    longer counts.)
    """
    return _latest(previous, AppealState.UPHELD)


def reappeal_from(previous: Sequence[PastAppeal], policy: DeadlinePolicy) -> datetime | None:
    """The instant from which a new appeal is accepted after the latest withdrawal.

    ``None`` when no appeal on the report was withdrawn. The boundary belongs
    to the buyer: at exactly this instant a new appeal is accepted.
    """
    withdrawal = _latest(previous, AppealState.WITHDRAWN)
    if withdrawal is None:
        return None
    return _closing(withdrawal) + timedelta(days=policy.withdrawal_wait_days)


def check_waiting(
    previous: Sequence[PastAppeal], filed_at: datetime, policy: DeadlinePolicy
) -> None:
    """Refuse a new appeal at ``filed_at`` while an earlier one is open or was withdrawn
    too recently.

    Raises :class:`AppealAlreadyOpen` for an open earlier appeal (the report's
    ``disputed`` status normally says so first) and :class:`WithdrawnRecently`
    (409) before the waiting time after the latest withdrawal has passed.
    Waiting is the only remedy for either, so :func:`open_appeal` checks this
    before it looks at the grounds or the statement.
    """
    if any(p.state in OPEN_STATES for p in previous):
        raise AppealAlreadyOpen("This report already has an open appeal.")
    possible_from = reappeal_from(previous, policy)
    if possible_from is not None and filed_at < possible_from:
        withdrawn_at = possible_from - timedelta(days=policy.withdrawal_wait_days)
        raise WithdrawnRecently(
            f"An appeal on this report was withdrawn at {iso(withdrawn_at)}; a new appeal "
            f"is possible from {iso(possible_from)}.",
            extra={"withdrawn_at": iso(withdrawn_at), "possible_from": iso(possible_from)},
        )


def check_grounds(previous: Sequence[PastAppeal], grounds: Grounds) -> PastAppeal | None:
    """Refuse grounds that the report's earlier appeals rule out; return the decision
    an appeal on new evidence contests (``None`` for any other grounds).

    After a decision only ``new_evidence`` is accepted (:class:`NeedsNewEvidence`);
    without one, ``new_evidence`` is refused (:class:`NoPreviousDecision`).
    """
    decision = standing_decision(previous)
    if decision is not None and grounds is not Grounds.NEW_EVIDENCE:
        raise NeedsNewEvidence(
            "An adjudicator upheld this report on an earlier appeal; only new evidence "
            f"reopens it (grounds {Grounds.NEW_EVIDENCE.value!r}).",
            extra={"allowed": [Grounds.NEW_EVIDENCE.value], "decided_at": iso(decision.closed_at)},
        )
    if decision is None and grounds is Grounds.NEW_EVIDENCE:
        raise NoPreviousDecision(
            f"Grounds {Grounds.NEW_EVIDENCE.value!r} contest an earlier decision, and no "
            "appeal on this report has been decided.",
            extra={"allowed": [g.value for g in Grounds if g is not Grounds.NEW_EVIDENCE]},
        )
    return decision


def _latest(previous: Sequence[PastAppeal], state: AppealState) -> PastAppeal | None:
    """The appeal in ``state`` that closed last (ties: the one listed last)."""
    latest: PastAppeal | None = None
    for appeal in previous:
        if appeal.state is state and (latest is None or _closing(appeal) >= _closing(latest)):
            latest = appeal
    return latest


def _closing(appeal: PastAppeal) -> datetime:
    # Only closed appeals are ranked (open ones are refused first); the filing
    # time stands in so that the key is total.
    return appeal.closed_at if appeal.closed_at is not None else appeal.filed_at
