"""The limits on appealing a report again: one open appeal, new evidence after a
decision, a wait after a withdrawal.

Each rule has a property test over random histories of earlier appeals, and
``tests/support/appeal_rules.py`` restates all of them plainly, independently
of ``domain.appeals.limits``; the stateful model in ``test_appeals.py`` uses
that restatement too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import appeals
from refund_registry.domain.appeals import (
    Appeal,
    AppealAction,
    AppealAlreadyOpen,
    AppealState,
    DeadlinePolicy,
    Grounds,
    IllegalTransition,
    NeedsNewEvidence,
    NoPreviousDecision,
    PastAppeal,
    WithdrawnRecently,
    open_appeal,
    reappeal_from,
    standing_decision,
    transition,
)
from refund_registry.domain.wire import iso
from refund_registry.errors import Conflict, InvalidInput
from tests.support.appeal_rules import OLD_GROUNDS, expected_opening

S = AppealState
START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
TICK = timedelta(microseconds=1)
POLICY = DeadlinePolicy()
STATEMENT = "The courier's photo shows the parcel was never delivered."

# --- strategies ----------------------------------------------------------------------


@st.composite
def histories(
    draw: st.DrawFn, states: Sequence[AppealState] = (S.UPHELD, S.WITHDRAWN, S.OVERTURNED)
) -> list[PastAppeal]:
    """Earlier appeals of one report, one after the other, each closed before the next."""
    count = draw(st.integers(0, 5))
    at = START
    past = []
    for i in range(count):
        at += draw(st.timedeltas(timedelta(0), timedelta(days=60)))
        filed = at
        at += draw(st.timedeltas(TICK, timedelta(days=20)))
        past.append(PastAppeal(f"apl_{i}", draw(st.sampled_from(states)), filed, at))
    return draw(st.permutations(past))  # the order given must not matter


policies = st.builds(
    DeadlinePolicy,
    member_response_days=st.just(10),
    decision_days=st.just(20),
    withdrawal_wait_days=st.integers(0, 60),
)


def last_closing(previous: Sequence[PastAppeal]) -> datetime:
    return max((p.closed_at or p.filed_at for p in previous), default=START)


def after_the_last(previous: Sequence[PastAppeal]) -> st.SearchStrategy[datetime]:
    base = last_closing(previous)
    return st.timedeltas(timedelta(0), timedelta(days=90)).map(lambda d: base + d)


# --- every rule at once, against the plain restatement ----------------------------------


@given(
    previous=histories(),
    status=st.sampled_from(["active", "active", "disputed", "overturned", "retracted"]),
    grounds=st.sampled_from([*OLD_GROUNDS, "new_evidence", "new_evidence", "NEW_EVIDENCE", ""]),
    statement=st.sampled_from([STATEMENT, "", "  ", "x" * 2001]),
    policy=policies,
    data=st.data(),
)
def test_opening_follows_the_rules_in_order(
    previous: list[PastAppeal],
    status: str,
    grounds: str,
    statement: str,
    policy: DeadlinePolicy,
    data: st.DataObject,
) -> None:
    now = data.draw(after_the_last(previous))
    expected = expected_opening(status, grounds, statement, now, policy, previous)
    if isinstance(expected, type):
        with pytest.raises(expected) as refused:
            open_appeal(status, grounds, statement, now, policy, previous=previous)
        assert type(refused.value) is expected
    else:
        appeal = open_appeal(status, grounds, statement, now, policy, previous=previous)
        assert appeal.state is expected


# --- 1. one open appeal per report ---------------------------------------------------------


@given(
    previous=histories(),
    open_state=st.sampled_from([S.AWAITING_MEMBER, S.AWAITING_ADJUDICATION]),
    grounds=st.sampled_from([*OLD_GROUNDS, "new_evidence", "bogus"]),
    statement=st.sampled_from([STATEMENT, ""]),
    data=st.data(),
)
def test_an_open_appeal_blocks_any_other(
    previous: list[PastAppeal],
    open_state: AppealState,
    grounds: str,
    statement: str,
    data: st.DataObject,
) -> None:
    now = data.draw(after_the_last(previous))
    still_open = PastAppeal("apl_open", open_state, now - timedelta(days=1), None)
    for status in ("active", "disputed"):
        with pytest.raises(AppealAlreadyOpen) as refused:
            open_appeal(status, grounds, statement, now, POLICY, previous=[*previous, still_open])
        assert isinstance(refused.value, Conflict)
        assert refused.value.code == "appeal.already_open"


# --- 2. after a decision, only new evidence, straight to adjudication ------------------------


@given(
    previous=histories(states=(S.UPHELD, S.OVERTURNED)),
    policy=policies,
    grounds=st.sampled_from(OLD_GROUNDS),
    data=st.data(),
)
def test_after_a_decision_only_new_evidence_reopens_the_report(
    previous: list[PastAppeal], policy: DeadlinePolicy, grounds: str, data: st.DataObject
) -> None:
    decided = PastAppeal("apl_decided", S.UPHELD, START, START + timedelta(days=15))
    history = [*previous, decided]
    now = data.draw(after_the_last(history))
    with pytest.raises(NeedsNewEvidence) as refused:
        open_appeal("active", grounds, STATEMENT, now, policy, previous=history)
    assert isinstance(refused.value, InvalidInput)  # 422: the buyer can fix it
    assert refused.value.code == "appeal.needs_new_evidence"
    assert refused.value.extra["allowed"] == ["new_evidence"]

    appeal = open_appeal("active", "new_evidence", STATEMENT, now, policy, previous=history)
    assert appeal.state is S.AWAITING_ADJUDICATION
    assert appeal.grounds is Grounds.NEW_EVIDENCE
    # No member step; the decision is due counting from this filing.
    assert appeal.member_response_due is None
    assert appeal.decision_due == now + timedelta(days=policy.decision_days)
    assert appeal.current_due == appeal.decision_due
    # The decision it contests is the latest upheld one.
    standing = standing_decision(history)
    assert standing is not None
    assert standing.closed_at == max(p.closed_at or START for p in history if p.state is S.UPHELD)


@given(previous=histories(states=(S.WITHDRAWN, S.OVERTURNED)), data=st.data())
def test_new_evidence_needs_a_decision_to_contest(
    previous: list[PastAppeal], data: st.DataObject
) -> None:
    now = data.draw(after_the_last(previous)) + timedelta(days=30)  # past any wait
    with pytest.raises(NoPreviousDecision) as refused:
        open_appeal("active", "new_evidence", STATEMENT, now, POLICY, previous=previous)
    assert isinstance(refused.value, InvalidInput)
    assert refused.value.code == "appeal.no_previous_decision"
    assert "new_evidence" not in refused.value.extra["allowed"]
    assert standing_decision(previous) is None


def test_an_appeal_on_new_evidence_skips_the_member() -> None:
    decided = PastAppeal("apl_1", S.UPHELD, START, START + timedelta(days=12))
    filed = START + timedelta(days=40)
    appeal = open_appeal("active", "new_evidence", STATEMENT, filed, POLICY, previous=[decided])
    # The member already answered: it cannot answer again.
    for action in (AppealAction.MEMBER_RETRACT, AppealAction.MEMBER_UPHOLD):
        with pytest.raises(IllegalTransition) as refused:
            transition(appeal, action, "member", filed, summary="again")
        assert refused.value.extra["state"] == "awaiting_adjudication"
    due = filed + timedelta(days=20)
    decided_again = transition(appeal, AppealAction.ADJUDICATOR_UPHELD, "adjudicator", due - TICK)
    assert decided_again.new_state is S.UPHELD
    assert transition(appeal, AppealAction.BUYER_WITHDRAW, "buyer", filed).new_state is (
        S.WITHDRAWN
    )
    assert transition(appeal, AppealAction.DEADLINE, "system", due).new_state is S.OVERTURNED
    assert appeals.due_deadline(appeal, due)
    assert not appeals.due_deadline(appeal, due - TICK)


# --- 3. a wait after a withdrawal ----------------------------------------------------------------


@given(
    previous=histories(states=(S.WITHDRAWN, S.UPHELD)),
    policy=policies,
    offset=st.timedeltas(timedelta(days=-70), timedelta(days=70)),
)
def test_a_withdrawal_means_waiting_before_appealing_again(
    previous: list[PastAppeal], policy: DeadlinePolicy, offset: timedelta
) -> None:
    withdrawn = [p for p in previous if p.state is S.WITHDRAWN]
    possible_from = reappeal_from(previous, policy)
    if not withdrawn:
        assert possible_from is None
        return
    latest = max(p.closed_at or p.filed_at for p in withdrawn)
    assert possible_from == latest + timedelta(days=policy.withdrawal_wait_days)
    now = max(possible_from + offset, last_closing(previous))
    grounds = "new_evidence" if any(p.state is S.UPHELD for p in previous) else "not_me"
    if now < possible_from:
        # Refused whatever the grounds and the statement: only waiting helps.
        for g, text in ((grounds, STATEMENT), ("bogus", ""), ("other", "x" * 2001)):
            with pytest.raises(WithdrawnRecently) as refused:
                open_appeal("active", g, text, now, policy, previous=previous)
            assert isinstance(refused.value, Conflict)  # 409
            assert refused.value.code == "appeal.withdrawn_recently"
            assert refused.value.extra == {
                "withdrawn_at": iso(latest),
                "possible_from": iso(possible_from),
            }
    else:
        appeal = open_appeal("active", grounds, STATEMENT, now, policy, previous=previous)
        assert appeal.is_open


@pytest.mark.parametrize("wait", [0, 1, 30])
def test_the_wait_ends_exactly_on_its_boundary(wait: int) -> None:
    policy = DeadlinePolicy(withdrawal_wait_days=wait)
    withdrawn_at = START + timedelta(days=3)
    previous = [PastAppeal("apl_1", S.WITHDRAWN, START, withdrawn_at)]
    boundary = withdrawn_at + timedelta(days=wait)
    if wait:
        with pytest.raises(WithdrawnRecently) as refused:
            open_appeal("active", "other", STATEMENT, boundary - TICK, policy, previous=previous)
        assert refused.value.extra["possible_from"] == iso(boundary)
    appeal = open_appeal("active", "other", STATEMENT, boundary, policy, previous=previous)
    assert appeal.state is S.AWAITING_MEMBER


def test_the_default_wait_is_thirty_days_and_never_negative() -> None:
    assert DeadlinePolicy().withdrawal_wait_days == 30
    with pytest.raises(ValueError, match="withdrawal_wait_days"):
        DeadlinePolicy(withdrawal_wait_days=-1)


def test_only_the_latest_withdrawal_counts() -> None:
    previous = [
        PastAppeal("apl_1", S.WITHDRAWN, START, START + timedelta(days=1)),
        PastAppeal("apl_2", S.WITHDRAWN, START + timedelta(days=40), START + timedelta(days=41)),
    ]
    with pytest.raises(WithdrawnRecently) as refused:
        open_appeal("active", "other", STATEMENT, START + timedelta(days=60), POLICY,
                    previous=previous)  # fmt: skip
    assert refused.value.extra["possible_from"] == iso(START + timedelta(days=71))


# --- the state diagram ------------------------------------------------------------------------


def test_the_diagram_shows_both_ways_in() -> None:
    lines = appeals.mermaid_diagram().splitlines()
    assert "    [*] --> awaiting_member: buyer files, report disputed" in lines
    assert any(line.startswith("    [*] --> awaiting_adjudication: ") for line in lines)
    assert appeals.FIRST_STATE == {False: S.AWAITING_MEMBER, True: S.AWAITING_ADJUDICATION}


def test_a_first_appeal_is_unchanged_by_the_limits() -> None:
    appeal = open_appeal("active", "not_me", STATEMENT, START, POLICY, previous=())
    assert appeal == Appeal(
        state=S.AWAITING_MEMBER,
        grounds=Grounds.NOT_ME,
        statement=STATEMENT,
        filed_at=START,
        member_response_due=START + timedelta(days=10),
        decision_due=START + timedelta(days=20),
    )
    assert replace(appeal, state=S.WITHDRAWN).current_due is None
