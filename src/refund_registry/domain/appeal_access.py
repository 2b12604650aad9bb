"""Who may act on an appeal, and what the parties' requests mean.

A buyer is anyone holding a subject token that names one of the report's
subject keys; the reporting member is the principal that filed the report;
adjudicators see every appeal. Everyone else gets the same 404 as for an
appeal that does not exist, so the existence of a report or appeal never
leaks to a stranger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from refund_registry.domain import appeals as machine
from refund_registry.errors import NotFound

RESPONSES: Final = {
    "retract": machine.AppealAction.MEMBER_RETRACT,
    "uphold": machine.AppealAction.MEMBER_UPHOLD,
}
OUTCOMES: Final = {
    "upheld": machine.AppealAction.ADJUDICATOR_UPHELD,
    "overturned": machine.AppealAction.ADJUDICATOR_OVERTURNED,
}

LOG_ACTION: Final = {
    machine.AppealAction.BUYER_WITHDRAW: "appeal.withdraw",
    machine.AppealAction.MEMBER_RETRACT: "appeal.response",
    machine.AppealAction.MEMBER_UPHOLD: "appeal.response",
    machine.AppealAction.ADJUDICATOR_UPHELD: "appeal.decision",
    machine.AppealAction.ADJUDICATOR_OVERTURNED: "appeal.decision",
    machine.AppealAction.DEADLINE: "appeal.deadline",
}
"""The access-log action recording each transition."""


def response_action(action: str) -> machine.AppealAction:
    """The member's answer to an appeal: ``retract`` or ``uphold``."""
    step = RESPONSES.get(action)
    if step is None:
        raise machine.UnknownAction(
            "action must be 'retract' or 'uphold'", extra={"allowed": sorted(RESPONSES)}
        )
    return step


def decision_action(outcome: str) -> machine.AppealAction:
    """An adjudicator's decision: ``upheld`` or ``overturned``."""
    step = OUTCOMES.get(outcome)
    if step is None:
        raise machine.UnknownAction(
            "outcome must be 'upheld' or 'overturned'", extra={"allowed": sorted(OUTCOMES)}
        )
    return step


def event_data(
    role: machine.ActorRole,
    action: machine.AppealAction,
    step: machine.Transition,
    *,
    decided: bool,
) -> dict[str, str]:
    """What the ledger event of a party's transition records about it."""
    data = {"by": role.value}
    if action in (machine.AppealAction.MEMBER_RETRACT, machine.AppealAction.MEMBER_UPHOLD):
        data["action"] = "retract" if action is RESPONSES["retract"] else "uphold"
    if decided:
        data["outcome"] = step.new_state.value
    return data


def buyer_keys(token_keys: Iterable[bytes], report_keys: Iterable[bytes]) -> list[bytes]:
    """The token's keys that the report is filed under (empty: not the buyer's report)."""
    on_report = set(report_keys)
    return [k for k in token_keys if k in on_report]


def standing(
    appeal_id: str,
    report_member: str | None,
    report_keys: Sequence[bytes],
    *,
    buyer: Sequence[bytes] | None = None,
    principal: tuple[str, str] | None = None,
) -> tuple[machine.ActorRole, list[bytes]]:
    """A party's role in an appeal and the subject keys its access touches.

    The party is either a buyer (``buyer``: the token's subject keys) or a
    principal (``principal``: its id and role). ``report_member`` is None
    when the appeal (or its report) does not exist. Raises the one 404 for
    every kind of stranger, and for a missing appeal.
    """
    if report_member is not None:
        if buyer is not None:
            matched = buyer_keys(buyer, report_keys)
            if matched:
                return machine.ActorRole.BUYER, matched
        elif principal is not None:
            principal_id, role = principal
            keys = sorted(report_keys)
            if role == "member" and principal_id == report_member:
                return machine.ActorRole.MEMBER, keys
            if role == "adjudicator":
                return machine.ActorRole.ADJUDICATOR, keys
    raise NotFound(f"no appeal {appeal_id!r}", code="appeal.not_found")
