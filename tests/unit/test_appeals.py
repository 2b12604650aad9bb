"""The appeal state machine: table, roles, deadlines, and a stateful model check.

The expected table below is written out by hand from the rules in
docs/appeals.md rather than derived from ``appeals.TABLE``, so a wrong edit to
the table fails here. The limits on appealing again have their own tests
(``test_appeal_limits.py``); the stateful model here follows them across
successive appeals on one report.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from refund_registry.domain import appeals
from refund_registry.domain.appeals import (
    ActorRole,
    Appeal,
    AppealAction,
    AppealAlreadyOpen,
    AppealState,
    DeadlineNotDue,
    DeadlinePassed,
    DeadlinePolicy,
    Grounds,
    IllegalTransition,
    InvalidGrounds,
    InvalidStatement,
    InvalidSummary,
    PastAppeal,
    ReportEffect,
    ReportNotAppealable,
    RoleNotAllowed,
    Transition,
    UnknownAction,
    deadlines,
    due_deadline,
    mermaid_diagram,
    open_appeal,
    reappeal_from,
    transition,
)
from refund_registry.errors import Conflict, Forbidden, InvalidInput
from tests.support.appeal_rules import expected_opening

S = AppealState
A = AppealAction
FILED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
POLICY = DeadlinePolicy()
MEMBER_DUE = FILED + timedelta(days=10)
DECISION_DUE = FILED + timedelta(days=20)
TICK = timedelta(microseconds=1)
SUMMARY = "Carrier weight record shows 0.2 kg returned against 1.4 kg shipped."

EXPECTED_TABLE: dict[
    tuple[AppealState, AppealAction], tuple[AppealState, ReportEffect | None, str]
] = {
    (S.AWAITING_MEMBER, A.MEMBER_RETRACT): (S.OVERTURNED, "overturned", "appeal.answered"),
    (S.AWAITING_MEMBER, A.MEMBER_UPHOLD): (S.AWAITING_ADJUDICATION, None, "appeal.answered"),
    (S.AWAITING_MEMBER, A.BUYER_WITHDRAW): (S.WITHDRAWN, "reinstated", "appeal.withdrawn"),
    (S.AWAITING_MEMBER, A.DEADLINE): (S.OVERTURNED, "overturned", "appeal.expired"),
    (S.AWAITING_ADJUDICATION, A.ADJUDICATOR_UPHELD): (S.UPHELD, "reinstated", "appeal.decided"),
    (S.AWAITING_ADJUDICATION, A.ADJUDICATOR_OVERTURNED): (
        S.OVERTURNED,
        "overturned",
        "appeal.decided",
    ),
    (S.AWAITING_ADJUDICATION, A.BUYER_WITHDRAW): (S.WITHDRAWN, "reinstated", "appeal.withdrawn"),
    (S.AWAITING_ADJUDICATION, A.DEADLINE): (S.OVERTURNED, "overturned", "appeal.expired"),
}
EXPECTED_ROLE = {
    A.MEMBER_RETRACT: "member",
    A.MEMBER_UPHOLD: "member",
    A.ADJUDICATOR_UPHELD: "adjudicator",
    A.ADJUDICATOR_OVERTURNED: "adjudicator",
    A.BUYER_WITHDRAW: "buyer",
    A.DEADLINE: "system",
}
ALL_ROLES = ["buyer", "member", "adjudicator", "system", "auditor", "admin", ""]


def make_appeal(state: AppealState = S.AWAITING_MEMBER) -> Appeal:
    return replace(
        open_appeal("active", "not_me", "It was not me.", FILED, POLICY, previous=()), state=state
    )


def legal_moment(state: AppealState, action: AppealAction) -> datetime:
    """A time at which a legal (state, action) pair is allowed by the clock."""
    due = MEMBER_DUE if state is S.AWAITING_MEMBER else DECISION_DUE
    return due if action is A.DEADLINE else due - TICK


# --- the table ----------------------------------------------------------------


def test_table_is_exactly_the_specified_machine() -> None:
    assert appeals.TABLE == EXPECTED_TABLE
    assert {a: r.value for a, r in appeals.ACTION_ROLE.items()} == EXPECTED_ROLE


def test_states_partition_into_open_and_terminal() -> None:
    assert {S.AWAITING_MEMBER, S.AWAITING_ADJUDICATION} == appeals.OPEN_STATES
    assert {S.UPHELD, S.OVERTURNED, S.WITHDRAWN} == appeals.TERMINAL_STATES
    # Nothing ever leaves a terminal state.
    assert all(state in appeals.OPEN_STATES for state, _ in appeals.TABLE)


@pytest.mark.parametrize(("state", "action"), list(EXPECTED_TABLE))
def test_every_legal_transition(state: AppealState, action: AppealAction) -> None:
    appeal = make_appeal(state)
    result = transition(
        appeal, action, EXPECTED_ROLE[action], legal_moment(state, action), summary=SUMMARY
    )
    new_state, effect, event = EXPECTED_TABLE[state, action]
    assert result == Transition(new_state=new_state, report_effect=effect, event_type=event)


@pytest.mark.parametrize(
    ("state", "action"),
    [pair for pair in itertools.product(S, A) if pair not in EXPECTED_TABLE],
)
def test_every_illegal_pair_is_a_conflict_with_the_current_state(
    state: AppealState, action: AppealAction
) -> None:
    appeal = make_appeal(state)
    # Both inside and past every deadline: legality comes before the clock.
    for now in (FILED, MEMBER_DUE, DECISION_DUE + timedelta(days=365)):
        with pytest.raises(IllegalTransition) as info:
            transition(appeal, action, EXPECTED_ROLE[action], now, summary=SUMMARY)
        assert type(info.value) is IllegalTransition
        assert isinstance(info.value, Conflict)
        assert info.value.code == "appeal.illegal_transition"
        assert info.value.extra["state"] == state.value


def test_transition_accepts_plain_strings_and_refuses_unknown_actions() -> None:
    appeal = make_appeal()
    assert transition(appeal, "buyer_withdraw", "buyer", FILED).new_state is S.WITHDRAWN
    with pytest.raises(UnknownAction) as info:
        transition(appeal, "delete", "buyer", FILED)
    assert isinstance(info.value, InvalidInput)
    assert info.value.code == "appeal.unknown_action"


# --- roles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "role"),
    [(a, r) for a in A for r in ALL_ROLES if r != EXPECTED_ROLE[a]],
)
def test_wrong_role_is_forbidden_in_every_state(action: AppealAction, role: str) -> None:
    # Checked before the state: a role that may never act is told so, not
    # told about a state it has no business knowing how to change.
    for state in S:
        appeal = make_appeal(state)
        with pytest.raises(RoleNotAllowed) as info:
            transition(appeal, action, role, legal_moment(S.AWAITING_MEMBER, action))
        assert isinstance(info.value, Forbidden)
        assert info.value.code == "appeal.forbidden_role"


def test_role_enum_and_plain_string_are_equivalent() -> None:
    appeal = make_appeal()
    by_enum = transition(appeal, A.MEMBER_RETRACT, ActorRole.MEMBER, FILED)
    by_str = transition(appeal, "member_retract", "member", FILED)
    assert by_enum == by_str


# --- member summary ----------------------------------------------------------------


@pytest.mark.parametrize("summary", [None, "", "   \n\t"])
def test_uphold_requires_a_summary(summary: str | None) -> None:
    with pytest.raises(InvalidSummary) as info:
        transition(make_appeal(), A.MEMBER_UPHOLD, "member", FILED, summary=summary)
    assert info.value.code == "appeal.summary_required"


def test_uphold_summary_length_boundary() -> None:
    appeal = make_appeal()
    ok = transition(appeal, A.MEMBER_UPHOLD, "member", FILED, summary="x" * 2000)
    assert ok.new_state is S.AWAITING_ADJUDICATION
    with pytest.raises(InvalidSummary) as info:
        transition(appeal, A.MEMBER_UPHOLD, "member", FILED, summary="x" * 2001)
    assert info.value.code == "appeal.summary_length"
    assert isinstance(info.value, InvalidInput)


def test_retract_needs_no_summary() -> None:
    assert transition(make_appeal(), A.MEMBER_RETRACT, "member", FILED).report_effect == (
        "overturned"
    )


# --- opening -----------------------------------------------------------------------


def test_open_appeal_sets_deadlines_from_filing() -> None:
    appeal = open_appeal(
        "active", "goods_really_defective", "The seam split.", FILED, POLICY, previous=()
    )
    assert appeal.state is S.AWAITING_MEMBER
    assert appeal.grounds is Grounds.GOODS_REALLY_DEFECTIVE
    assert (appeal.member_response_due, appeal.decision_due) == (MEMBER_DUE, DECISION_DUE)
    assert deadlines(FILED, POLICY) == (MEMBER_DUE, DECISION_DUE)
    assert appeal.is_open
    assert appeal.current_due == MEMBER_DUE


def test_custom_policy_and_offset_time_zones() -> None:
    tz = timezone(timedelta(hours=8))
    filed = datetime(2025, 3, 1, 17, 30, tzinfo=tz)
    member_due, decision_due = deadlines(filed, DeadlinePolicy(3, 7))
    assert member_due == filed + timedelta(days=3)
    assert decision_due - filed == timedelta(days=7)


@pytest.mark.parametrize(("member", "decision"), [(0, 20), (10, 10), (21, 20), (-1, 5)])
def test_policy_refuses_incoherent_deadlines(member: int, decision: int) -> None:
    with pytest.raises(ValueError, match="member_response_days"):
        DeadlinePolicy(member, decision)


@pytest.mark.parametrize(
    "grounds", ["not_me", "goods_really_defective", "already_resolved", "other"]
)
def test_all_grounds_are_accepted(grounds: str) -> None:
    assert open_appeal("active", grounds, "s", FILED, POLICY, previous=()).grounds == grounds


@pytest.mark.parametrize("grounds", ["", "NOT_ME", "fraud", "not me"])
def test_unknown_grounds_are_invalid(grounds: str) -> None:
    with pytest.raises(InvalidGrounds) as info:
        open_appeal("active", grounds, "s", FILED, POLICY, previous=())
    assert info.value.code == "appeal.invalid_grounds"
    assert isinstance(info.value, InvalidInput)


@pytest.mark.parametrize("statement", ["", "   ", "\n", "x" * 2001])
def test_statement_length_is_bounded(statement: str) -> None:
    with pytest.raises(InvalidStatement) as info:
        open_appeal("active", "other", statement, FILED, POLICY, previous=())
    assert info.value.code == "appeal.statement_length"


@pytest.mark.parametrize("statement", ["x", "x" * 2000, "不是我" * 600])
def test_statement_within_bounds_is_kept_verbatim(statement: str) -> None:
    assert (
        open_appeal("active", "other", statement, FILED, POLICY, previous=()).statement == statement
    )


def test_disputed_report_already_has_an_appeal() -> None:
    with pytest.raises(AppealAlreadyOpen) as info:
        open_appeal("disputed", "not_me", "s", FILED, POLICY, previous=())
    assert isinstance(info.value, Conflict)
    assert info.value.code == "appeal.already_open"


@pytest.mark.parametrize("status", ["retracted", "overturned", "expired", "nonsense"])
def test_only_active_reports_can_be_appealed(status: str) -> None:
    # The report state is checked before the input: bad grounds do not mask it.
    with pytest.raises(ReportNotAppealable) as info:
        open_appeal(status, "bad grounds", "", FILED, POLICY, previous=())
    assert isinstance(info.value, Conflict)
    assert info.value.extra["report_status"] == status


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 3, 1, 9, 30)  # deliberately naive
    with pytest.raises(ValueError, match="timezone-aware"):
        open_appeal("active", "other", "s", naive, POLICY, previous=())
    with pytest.raises(ValueError, match="timezone-aware"):
        transition(make_appeal(), A.BUYER_WITHDRAW, "buyer", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        due_deadline(make_appeal(), naive)


# --- deadlines at the exact boundary ------------------------------------------------


@pytest.mark.parametrize(
    ("state", "due"),
    [(S.AWAITING_MEMBER, MEMBER_DUE), (S.AWAITING_ADJUDICATION, DECISION_DUE)],
)
def test_deadline_tick_boundary(state: AppealState, due: datetime) -> None:
    appeal = make_appeal(state)
    assert not due_deadline(appeal, due - TICK)
    with pytest.raises(DeadlineNotDue) as info:
        transition(appeal, A.DEADLINE, "system", due - TICK)
    assert info.value.extra == {"state": state.value, "due": due.isoformat()}
    assert isinstance(info.value, IllegalTransition)

    assert due_deadline(appeal, due)
    result = transition(appeal, A.DEADLINE, "system", due)
    assert result == Transition(S.OVERTURNED, "overturned", "appeal.expired")


@pytest.mark.parametrize(
    ("state", "action", "due"),
    [
        (S.AWAITING_MEMBER, A.MEMBER_RETRACT, MEMBER_DUE),
        (S.AWAITING_MEMBER, A.MEMBER_UPHOLD, MEMBER_DUE),
        (S.AWAITING_MEMBER, A.BUYER_WITHDRAW, MEMBER_DUE),
        (S.AWAITING_ADJUDICATION, A.ADJUDICATOR_UPHELD, DECISION_DUE),
        (S.AWAITING_ADJUDICATION, A.ADJUDICATOR_OVERTURNED, DECISION_DUE),
        (S.AWAITING_ADJUDICATION, A.BUYER_WITHDRAW, DECISION_DUE),
    ],
)
def test_the_deadline_wins_over_a_late_action(
    state: AppealState, action: AppealAction, due: datetime
) -> None:
    appeal = make_appeal(state)
    role = EXPECTED_ROLE[action]
    assert transition(appeal, action, role, due - TICK, summary=SUMMARY).new_state is not state
    for late in (due, due + timedelta(days=400)):
        with pytest.raises(DeadlinePassed) as info:
            transition(appeal, action, role, late, summary=SUMMARY)
        assert info.value.code == "appeal.deadline_passed"
        assert info.value.extra == {"state": state.value, "due": due.isoformat()}
        assert isinstance(info.value, IllegalTransition)


def test_late_member_is_refused_even_with_an_invalid_summary() -> None:
    # The clock is checked before the payload: fixing the summary would not help.
    with pytest.raises(DeadlinePassed):
        transition(make_appeal(), A.MEMBER_UPHOLD, "member", MEMBER_DUE, summary="")


def test_adjudication_is_measured_from_filing_not_from_the_answer() -> None:
    answered_late_in_window = MEMBER_DUE - TICK
    appeal = make_appeal()
    step = transition(appeal, A.MEMBER_UPHOLD, "member", answered_late_in_window, summary="s")
    waiting = replace(appeal, state=step.new_state)
    assert waiting.current_due == DECISION_DUE
    assert not due_deadline(waiting, answered_late_in_window + timedelta(days=10) - TICK)


def test_closed_appeals_have_no_deadline() -> None:
    for state in appeals.TERMINAL_STATES:
        appeal = make_appeal(state)
        assert appeal.current_due is None
        assert not appeal.is_open
        assert not due_deadline(appeal, DECISION_DUE + timedelta(days=1000))


# --- docs ---------------------------------------------------------------------


def test_mermaid_diagram_covers_the_table_and_is_in_the_docs() -> None:
    diagram = mermaid_diagram()
    assert diagram.startswith("stateDiagram-v2\n")
    for (state, action), (new_state, _, _) in appeals.TABLE.items():
        assert any(
            line.strip().startswith(f"{state.value} --> {new_state.value}: {action.value} ")
            for line in diagram.splitlines()
        )
    docs = Path(__file__).resolve().parents[2] / "docs" / "appeals.md"
    # Docs change with the behaviour: regenerate the block when the table changes.
    assert diagram in docs.read_text(encoding="utf-8")


# --- stateful model ---------------------------------------------------------------


def _expected_outcome(
    appeal: Appeal, action: AppealAction, role: str, now: datetime, summary: str | None
) -> type[Exception] | tuple[AppealState, str | None, str]:
    """An independent, deliberately plain restatement of the appeal rules."""
    if role != EXPECTED_ROLE[action]:
        return RoleNotAllowed
    if (appeal.state, action) not in EXPECTED_TABLE:
        return IllegalTransition
    due = appeal.member_response_due if appeal.state is S.AWAITING_MEMBER else appeal.decision_due
    assert due is not None  # only an appeal on new evidence has no member deadline
    if action is A.DEADLINE:
        if now < due:
            return DeadlineNotDue
    elif now >= due:
        return DeadlinePassed
    if action is A.MEMBER_UPHOLD and (
        summary is None or not summary.strip() or len(summary) > 2000
    ):
        return InvalidSummary
    return EXPECTED_TABLE[appeal.state, action]


class AppealMachine(RuleBasedStateMachine):
    """Drives one report through random appeals, actions and clock advances."""

    def __init__(self) -> None:
        super().__init__()
        self.now = FILED
        self.report_status = "active"
        self.appeal: Appeal | None = None
        self.closed_as: AppealState | None = None
        self.policy = POLICY
        # The report's earlier appeals, for the limits on appealing it again.
        self.history: list[PastAppeal] = []

    @initialize(
        policy=st.sampled_from(
            [
                DeadlinePolicy(),
                DeadlinePolicy(1, 2, withdrawal_wait_days=0),
                DeadlinePolicy(10, 11, withdrawal_wait_days=3),
            ]
        )
    )
    def choose_policy(self, policy: DeadlinePolicy) -> None:
        self.policy = policy

    @rule(
        grounds=st.sampled_from([g.value for g in Grounds]),
        statement=st.text(min_size=1, max_size=20).filter(str.strip),
    )
    def file_appeal(self, grounds: str, statement: str) -> None:
        previous = [*self.history]
        if self.appeal is not None and self.appeal.is_open:
            previous.append(PastAppeal("current", self.appeal.state, self.appeal.filed_at, None))
        expected = expected_opening(
            self.report_status, grounds, statement, self.now, self.policy, previous
        )
        if isinstance(expected, type):
            with pytest.raises(expected):
                open_appeal(
                    self.report_status, grounds, statement, self.now, self.policy,
                    previous=previous,
                )  # fmt: skip
            return
        # A reinstated report may be appealed again: a fresh appeal, fresh deadlines.
        self.appeal = open_appeal(
            self.report_status, grounds, statement, self.now, self.policy, previous=previous
        )
        assert self.appeal.state is expected
        self.report_status = "disputed"
        self.closed_as = None

    @precondition(lambda self: any(p.state is S.WITHDRAWN for p in self.history))
    @rule(nudge=st.sampled_from([-TICK, timedelta(0), TICK]))
    def jump_to_the_end_of_the_wait(self, nudge: timedelta) -> None:
        # The wait after a withdrawal is long next to the other steps; land on it.
        possible_from = reappeal_from(self.history, self.policy)
        assert possible_from is not None
        self.now = max(self.now, possible_from + nudge)

    @rule(
        # Mostly small steps so that appeals live long enough to reach
        # adjudication; big jumps still happen, and so do exact boundaries.
        step=st.sampled_from([TICK, timedelta(hours=1), timedelta(days=1), timedelta(days=3)])
        | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=12))
    )
    def advance_clock(self, step: timedelta) -> None:
        self.now += step

    @precondition(lambda self: self.appeal is not None)
    @rule(which=st.sampled_from([0, 1]), nudge=st.sampled_from([-TICK, timedelta(0), TICK]))
    def jump_to_a_boundary(self, which: int, nudge: timedelta) -> None:
        # Random advances almost never land on a deadline; this rule does, so
        # the exact boundaries are exercised in most runs.
        assert self.appeal is not None
        target = deadlines(self.appeal.filed_at, self.policy)[which] + nudge
        self.now = max(self.now, target)  # the clock never runs backwards

    @precondition(lambda self: self.appeal is not None)
    @rule(
        action=st.sampled_from(list(A)),
        # Mostly the four real roles, so that legal transitions happen often.
        role=st.sampled_from(ALL_ROLES[:4]) | st.sampled_from(ALL_ROLES),
        summary=st.none() | st.sampled_from(["", "  ", "x" * 2001]) | st.text(max_size=30),
    )
    def act(self, action: AppealAction, role: str, summary: str | None) -> None:
        self._check_action(action, role, summary)

    @precondition(lambda self: self.appeal is not None)
    @rule(action=st.sampled_from(list(A)))
    def act_as_entitled(self, action: AppealAction) -> None:
        # The right role and a valid summary, so that the state and the clock
        # decide; `act` covers wrong roles and bad summaries.
        self._check_action(action, EXPECTED_ROLE[action], SUMMARY)

    @precondition(lambda self: self.appeal is not None and self.appeal.is_open)
    @rule(data=st.data())
    def take_a_listed_step(self, data: st.DataObject) -> None:
        # Drawn from the hand-written table, so runs move on to adjudication
        # instead of dying in awaiting_member; the clock may still refuse it.
        assert self.appeal is not None
        state = self.appeal.state
        action = data.draw(st.sampled_from([a for (s, a) in EXPECTED_TABLE if s is state]))
        self._check_action(action, EXPECTED_ROLE[action], SUMMARY)

    def _check_action(self, action: AppealAction, role: str, summary: str | None) -> None:
        assert self.appeal is not None
        expected = _expected_outcome(self.appeal, action, role, self.now, summary)
        if isinstance(expected, type):
            with pytest.raises(expected) as info:
                transition(self.appeal, action, role, self.now, summary=summary)
            if isinstance(info.value, IllegalTransition):
                assert info.value.extra["state"] == self.appeal.state.value
            return
        result = transition(self.appeal, action, role, self.now, summary=summary)
        assert (result.new_state, result.report_effect, result.event_type) == expected
        self._apply(result)

    @precondition(lambda self: self.appeal is not None)
    @rule()
    def deadline_tick(self) -> None:
        assert self.appeal is not None
        if due_deadline(self.appeal, self.now):
            # An open appeal past its deadline is overturned by the next tick.
            result = transition(self.appeal, A.DEADLINE, ActorRole.SYSTEM, self.now)
            assert result.new_state is S.OVERTURNED
            assert result.report_effect == "overturned"
            assert result.event_type == "appeal.expired"
            self._apply(result)
        else:
            with pytest.raises(IllegalTransition):
                transition(self.appeal, A.DEADLINE, ActorRole.SYSTEM, self.now)

    def _apply(self, result: Transition) -> None:
        assert self.appeal is not None
        self.appeal = replace(self.appeal, state=result.new_state)
        if result.report_effect is not None:
            self.report_status = appeals.REPORT_STATUS_AFTER[result.report_effect]
        if result.new_state in appeals.TERMINAL_STATES:
            self.closed_as = result.new_state
            self.history.append(
                PastAppeal(
                    f"apl_{len(self.history)}", result.new_state, self.appeal.filed_at, self.now
                )
            )

    @invariant()
    def state_is_legal(self) -> None:
        if self.appeal is not None:
            assert self.appeal.state in set(S)

    @invariant()
    def terminal_states_never_change(self) -> None:
        if self.closed_as is not None:
            assert self.appeal is not None
            assert self.appeal.state is self.closed_as

    @invariant()
    def report_status_matches_the_appeal(self) -> None:
        if self.appeal is None:
            assert self.report_status == "active"
            return
        state = self.appeal.state
        assert (state is S.OVERTURNED) == (self.report_status == "overturned")
        assert (state in {S.UPHELD, S.WITHDRAWN}) == (self.report_status == "active")
        assert self.appeal.is_open == (self.report_status == "disputed")

    @invariant()
    def due_means_open_and_late(self) -> None:
        if self.appeal is not None and due_deadline(self.appeal, self.now):
            assert self.appeal.is_open
            assert self.appeal.current_due is not None
            assert self.now >= self.appeal.current_due


AppealMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAppealMachine = AppealMachine.TestCase


@given(st.text(max_size=2100))
def test_a_rationale_is_required_and_bounded(rationale: str) -> None:
    if rationale.strip() and len(rationale) <= appeals.RATIONALE_MAX_CHARS:
        appeals.check_rationale(rationale)
    else:
        with pytest.raises(InvalidInput) as refused:
            appeals.check_rationale(rationale)
        assert refused.value.code == "appeal.rationale_length"


@given(st.none() | st.text(max_size=260))
def test_a_buyer_statement_is_short_and_not_blank_or_none(statement: str | None) -> None:
    if statement is None or (
        statement.strip() and len(statement) <= appeals.SUBJECT_STATEMENT_MAX_CHARS
    ):
        appeals.check_subject_statement(statement)
    else:
        with pytest.raises(InvalidInput) as refused:
            appeals.check_subject_statement(statement)
        assert refused.value.code == "subject.statement_length"
