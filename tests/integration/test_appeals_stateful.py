"""Random sequences of appeal actions against the real database, checked after every step.

Hypothesis drives the buyer, the reporting members, an adjudicator, querying
members, member retractions and the clock (the deadline worker) through the
service layer, on PostgreSQL. A small hand-written model says what each step
must do; after every step the database must agree with it, and with itself:

- every appeal is in the state the model expects, and its state is legal
  for its report's status (at most one open appeal per report, an open
  appeal's report is disputed, ...);
- a report is appealed again only within the limits: not too soon after a
  withdrawal, only on new evidence after a decision (such an appeal starts
  at adjudication with the decided appeal's member summary);
- every appeal records the member the buyer filed and withdrew through;
- every report has the status the appeal outcome implies;
- the maintained aggregates equal a recomputation from the reports
  (``recompute_aggregates``), and the facts name exactly the counting reports;
- no ledger event is lost or invented: each appeal's events, and the
  corrections sent to querying members, are exactly the model's.

The machine runs in a worker thread (Hypothesis's stateful runner is
synchronous); each step hands its coroutine to the test's event loop, which
owns the runtime's pools.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from refund_registry.domain import appeals as machine
from refund_registry.domain.inquiry import QueryItem
from refund_registry.domain.reports import b64url_decode
from refund_registry.errors import Conflict, InvalidInput, NotFound
from refund_registry.http.reports import ReportIn, to_domain
from refund_registry.runtime import Runtime
from refund_registry.services.appeals import AppealService, Subject
from refund_registry.services.authn import Caller
from refund_registry.services.ledger import Ledger
from refund_registry.services.risk import RiskService
from refund_registry.services.subject_access import subject_keys
from refund_registry.storage.queries import Q
from tests.support.factories import pseudonym, report_body

T = TypeVar("T")
# Strangers are refused the same way every time; most steps should move the appeal.
LIKELY = st.sampled_from([True, True, True, False])
UNLIKELY = st.sampled_from([False, False, False, True])
OPEN = {"awaiting_member", "awaiting_adjudication"}
CORRECTION = "report.overturned_after_your_query"
RUN = secrets.token_hex(3)
REPORTERS = [f"m_rep_a_{RUN}", f"m_rep_b_{RUN}"]
QUERIERS = [f"m_q1_{RUN}", f"m_q2_{RUN}", REPORTERS[0]]
# The members a buyer may act through (each issues the buyer a subject token).
VIA = [REPORTERS[1], QUERIERS[0]]
WAIT = timedelta(days=machine.DeadlinePolicy().withdrawal_wait_days)
# When a buyer comes back after a withdrawal: a second early, or just in time.
RETURNS = [-timedelta(seconds=1), timedelta(0), timedelta(0)]


def caller(principal: str, role: str) -> Caller:
    return Caller(principal, role, principal, "kid", secrets.token_hex(8), "digest", {})


@dataclass
class ReportModel:
    id: str
    member: str
    keys: frozenset[bytes]
    status: str = "active"
    # The limits on appealing again: the summary of the standing decision, the
    # latest withdrawal.
    decided_summary: str | None = None
    withdrawn_at: datetime | None = None


@dataclass
class AppealModel:
    id: str
    report: int
    state: str
    member_due: datetime | None  # None: on new evidence, no member step
    decision_due: datetime
    filed_via: str
    events: list[str] = field(default_factory=list)
    withdrawn_via: str | None = None
    summary: str | None = None
    # Retracted by its member while open, not closed yet (the worker will).
    pending_moot: bool = False

    @property
    def due(self) -> datetime:
        if self.state == "awaiting_member":
            assert self.member_due is not None
            return self.member_due
        return self.decision_due


@dataclass
class Query:
    member: str
    query_id: str
    at: datetime
    keys: frozenset[bytes]


class Env:
    """The test's event loop and services, shared by every example."""

    def __init__(self, loop: asyncio.AbstractEventLoop, runtime: Runtime) -> None:
        self.loop = loop
        self.runtime = runtime
        self.now = datetime.now(UTC)
        keyring = runtime.parts.keyring
        self.keyring = keyring
        self.appeals = AppealService(
            runtime.pool, keyring, runtime.access_log, clock=lambda: self.now
        )
        self.ledger = Ledger(runtime.pool, keyring, clock=lambda: self.now)
        self.risk = RiskService(
            keyring,
            runtime.parts.lookup,
            runtime.access_log,
            "http://registry",
            clock=lambda: self.now,
        )

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
        async def wrap() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(timeout=60)

    def expect(self, coro: Awaitable[Any], error: type[Exception], code: str | None = None) -> None:
        with pytest.raises(error) as raised:
            self.run(coro)
        if code is not None:
            assert getattr(raised.value, "code", None) == code, (raised.value, code)


class AppealMachine(RuleBasedStateMachine):
    env: Env

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[ReportModel] = []
        self.appeals: list[AppealModel] = []
        self.queries: list[Query] = []
        self.corrections: Counter[tuple[str, str, tuple[str, ...]]] = Counter()

    # -- set-up ---------------------------------------------------------------

    def buyer(self, via: str, pseudonyms: list[dict[str, str]]) -> Subject:
        """A buyer in a session that member ``via`` handed over."""
        keys = subject_keys(self.env.keyring, pseudonyms)
        return Subject(keys=keys, session_id="bss_" + secrets.token_hex(10), via_member=via)

    @initialize(decided_first=st.booleans())
    def file_reports(self, decided_first: bool) -> None:
        """One buyer (phone + email) with three reports from two members.

        With ``decided_first``, the second report starts with an appeal already
        upheld by an adjudicator, so that the rules on appealing after a
        decision are explored as often as the others.
        """
        self.env.now = datetime.now(UTC)
        phone, email = pseudonym(), pseudonym()
        self.pseudonyms = [{"kind": "phone", "value": phone}, {"kind": "email", "value": email}]
        keys = [self.env.keyring.subject_key(b64url_decode(p) or b"") for p in (phone, email)]
        self.keys = keys
        self.buyers = {via: self.buyer(via, self.pseudonyms) for via in VIA}
        self.stranger = self.buyer(REPORTERS[1], [{"kind": "phone", "value": pseudonym()}])
        layout = [
            (REPORTERS[0], [("phone", phone)]),
            (REPORTERS[1], [("phone", phone), ("email", email)]),
            (REPORTERS[0], [("email", email)]),
        ]
        for member, idents in layout:
            body = report_body(identifiers=[{"kind": k, "pseudonym": p} for k, p in idents])
            report = to_domain(msgspec.convert(body, ReportIn, strict=False))
            created, answer = self.env.run(self.env.ledger.file(member, report))
            assert created
            report_keys = frozenset(
                self.env.keyring.subject_key(b64url_decode(p) or b"") for _, p in idents
            )
            self.reports.append(ReportModel(answer["report_id"], member, report_keys))
        if decided_first:
            self.buyer_opens(1, False, machine.Grounds.NOT_ME, VIA[1])
            self.member_responds(1, "uphold", True)
            self.adjudicator_decides(1, "upheld")
            assert self.reports[1].decided_summary is not None

    def teardown(self) -> None:
        # Close whatever this example left open, so that the next example's
        # deadline runs (which see the whole database) count only its own.
        self.env.run(self.env.appeals.run_deadlines(self.env.now + timedelta(days=400)))

    # -- helpers --------------------------------------------------------------------

    def latest(self, index: int) -> AppealModel | None:
        mine = [a for a in self.appeals if a.report == index]
        return mine[-1] if mine else None

    def overturn(self, report: ReportModel) -> None:
        """The corrections an overturn of ``report`` at the current time must send."""
        now = self.env.now
        by_member: dict[str, list[str]] = {}
        for q in self.queries:
            if q.keys & report.keys and now - timedelta(days=90) < q.at <= now:
                by_member.setdefault(q.member, []).append(q.query_id)
        for member, ids in by_member.items():
            self.corrections[(member, report.id, tuple(sorted(ids)))] += 1

    def close_moot(self, appeal: AppealModel) -> None:
        appeal.state = "overturned"
        appeal.pending_moot = False
        appeal.events.append("appeal.closed")
        self.overturn(self.reports[appeal.report])

    # -- rules ------------------------------------------------------------------------

    @rule(
        index=st.integers(0, 2),
        stranger=UNLIKELY,
        # Half the time new evidence: refused or not, it exercises the limits.
        grounds=st.sampled_from([*machine.Grounds, *[machine.Grounds.NEW_EVIDENCE] * 3]),
        via=st.sampled_from(VIA),
    )
    def buyer_opens(self, index: int, stranger: bool, grounds: machine.Grounds, via: str) -> None:
        report = self.reports[index]
        who: Subject = self.stranger if stranger else self.buyers[via]
        call = self.env.appeals.open(who, report.id, grounds.value, "It was not me.")
        now = self.env.now
        new_evidence = grounds is machine.Grounds.NEW_EVIDENCE
        if stranger:
            self.env.expect(call, NotFound, "report.not_found")
        elif report.status == "disputed":
            self.env.expect(call, Conflict, "appeal.already_open")
        elif report.status != "active":
            self.env.expect(call, Conflict, "appeal.report_not_appealable")
        elif report.withdrawn_at is not None and now < report.withdrawn_at + WAIT:
            self.env.expect(call, Conflict, "appeal.withdrawn_recently")
        elif report.decided_summary is not None and not new_evidence:
            self.env.expect(call, InvalidInput, "appeal.needs_new_evidence")
        elif report.decided_summary is None and new_evidence:
            self.env.expect(call, InvalidInput, "appeal.no_previous_decision")
        else:
            view = self.env.run(call)
            state = "awaiting_adjudication" if new_evidence else "awaiting_member"
            assert view["state"] == state
            assert view["filed_by"] == {"how": "via_member", "member": via}
            report.status = "disputed"
            self.appeals.append(
                AppealModel(
                    view["appeal_id"],
                    index,
                    state,
                    None if new_evidence else now + timedelta(days=10),
                    now + timedelta(days=20),
                    via,
                    ["appeal.opened", "report.disputed"],
                    summary=report.decided_summary if new_evidence else None,
                )
            )

    @rule(
        index=st.integers(0, 2),
        action=st.sampled_from(["retract", "uphold", "uphold"]),
        owner=LIKELY,
    )
    def member_responds(self, index: int, action: str, owner: bool) -> None:
        appeal = self.latest(index)
        if appeal is None:
            return
        report = self.reports[index]
        member = report.member if owner else next(m for m in REPORTERS if m != report.member)
        call = self.env.appeals.respond(
            caller(member, "member"), appeal.id, action, "Photo metadata shows editing."
        )
        if not owner:
            self.env.expect(call, NotFound, "appeal.not_found")
        elif appeal.pending_moot:
            self.env.expect(call, Conflict, "appeal.report_closed")
        elif appeal.state != "awaiting_member":
            self.env.expect(call, machine.IllegalTransition, "appeal.illegal_transition")
        elif self.env.now >= appeal.due:
            self.env.expect(call, machine.DeadlinePassed)
        else:
            view = self.env.run(call)
            appeal.events.append("appeal.answered")
            if action == "retract":
                appeal.state = report.status = "overturned"
                appeal.events.append("report.overturned")
                self.overturn(report)
            else:
                appeal.state = "awaiting_adjudication"
                appeal.summary = "Photo metadata shows editing."
            assert view["state"] == appeal.state

    @rule(index=st.integers(0, 2), outcome=st.sampled_from(["upheld", "overturned"]))
    def adjudicator_decides(self, index: int, outcome: str) -> None:
        appeal = self.latest(index)
        if appeal is None:
            return
        report = self.reports[index]
        call = self.env.appeals.decide(
            caller(f"adj_{RUN}", "adjudicator"), appeal.id, outcome, "Weighed both sides."
        )
        if appeal.pending_moot:
            self.env.expect(call, Conflict, "appeal.report_closed")
        elif appeal.state != "awaiting_adjudication":
            self.env.expect(call, machine.IllegalTransition, "appeal.illegal_transition")
        elif self.env.now >= appeal.decision_due:
            self.env.expect(call, machine.DeadlinePassed)
        else:
            self.env.run(call)
            appeal.state = outcome
            appeal.events.append("appeal.decided")
            if outcome == "overturned":
                report.status = "overturned"
                appeal.events.append("report.overturned")
                self.overturn(report)
            else:
                report.status = "active"
                report.decided_summary = appeal.summary
                appeal.events.append("report.reinstated")

    @rule(
        index=st.integers(0, 2),
        stranger=UNLIKELY,
        go=st.booleans(),
        via=st.sampled_from(VIA),
        comes_back=st.sampled_from([None, None, *RETURNS]),
    )
    def buyer_withdraws(
        self, index: int, stranger: bool, go: bool, via: str, comes_back: timedelta | None
    ) -> None:
        appeal = self.latest(index)
        if appeal is None or not go:  # half the time: leave room for the other parties
            return
        call = self.env.appeals.withdraw(self.stranger if stranger else self.buyers[via], appeal.id)
        if stranger:
            self.env.expect(call, NotFound, "appeal.not_found")
        elif appeal.pending_moot:
            self.env.expect(call, Conflict, "appeal.report_closed")
        elif appeal.state not in OPEN:
            self.env.expect(call, machine.IllegalTransition, "appeal.illegal_transition")
        elif self.env.now >= appeal.due:
            self.env.expect(call, machine.DeadlinePassed)
        else:
            view = self.env.run(call)
            assert view["withdrawn_by"] == {"how": "via_member", "member": via}
            appeal.state = "withdrawn"
            appeal.withdrawn_via = via
            report = self.reports[index]
            report.status = "active"
            report.withdrawn_at = self.env.now
            appeal.events += ["appeal.withdrawn", "report.reinstated"]
            if comes_back is not None:
                self.buyer_returns(index, comes_back, VIA[0])

    @precondition(lambda self: any(r.withdrawn_at for r in self.reports))
    @rule(data=st.data(), nudge=st.sampled_from(RETURNS), via=st.sampled_from(VIA))
    def buyer_returns_after_a_withdrawal(
        self, data: st.DataObject, nudge: timedelta, via: str
    ) -> None:
        withdrawn = [i for i, r in enumerate(self.reports) if r.withdrawn_at]
        self.buyer_returns(data.draw(st.sampled_from(withdrawn)), nudge, via)

    def buyer_returns(self, index: int, nudge: timedelta, via: str) -> None:
        """The buyer appeals again at the end of the wait after a withdrawal (``nudge``
        from it), on the grounds the report's history allows."""
        # The wait is long next to the other steps; this lands on its boundary.
        report = self.reports[index]
        assert report.withdrawn_at is not None
        self.env.now = max(self.env.now, report.withdrawn_at + WAIT + nudge)
        decided = report.decided_summary is not None
        grounds = machine.Grounds.NEW_EVIDENCE if decided else machine.Grounds.OTHER
        self.buyer_opens(index, False, grounds, via)

    @rule(index=st.integers(0, 2), go=UNLIKELY)
    def member_retracts_report(self, index: int, go: bool) -> None:
        # Rare: a retraction ends a report for good, and the other rules need
        # live reports to explore the appeal states.
        if not go:
            return
        report = self.reports[index]
        call = self.env.ledger.retract(report.member, report.id, "case reopened internally")
        if report.status not in ("active", "disputed"):
            self.env.expect(call, Conflict, "report.not_retractable")
            return
        self.env.run(call)
        was = report.status
        report.status = "retracted"
        appeal = self.latest(index)
        if was == "disputed":
            assert appeal is not None
            assert appeal.state in OPEN
            # The ledger may close the appeal in the same transaction (when it
            # calls close_for_retraction) or leave it to the worker; either
            # way, the closing must be exactly the same.
            state = self.env.run(
                self.env.runtime.pool.fetchval("SELECT state FROM appeals WHERE id = $1", appeal.id)
            )
            appeal.pending_moot = True
            if state == "overturned":
                self.close_moot(appeal)

    @rule(querier=st.sampled_from(QUERIERS), which=st.sampled_from(["phone", "email", "both"]))
    def member_queries(self, querier: str, which: str) -> None:
        chosen = [p for p in self.pseudonyms if which in (p["kind"], "both")]
        item = QueryItem(tuple((p["kind"], p["value"]) for p in chosen), "refund_decision")
        (answer,) = self.env.run(
            self.env.risk.query(caller(querier, "member"), [item], batch=False)
        )
        keys = frozenset(self.keys[0 if p["kind"] == "phone" else 1] for p in chosen)
        self.queries.append(Query(querier, answer["query_id"], self.env.now, keys))

    @rule(days=st.integers(0, 4), hours=st.integers(0, 23))
    def time_passes(self, days: int, hours: int) -> None:
        self.env.now += timedelta(days=days, hours=hours)

    @rule()
    def deadline_worker_runs(self) -> None:
        closed = self.env.run(self.env.appeals.run_deadlines(self.env.now))
        expected = 0
        for appeal in self.appeals:
            if appeal.pending_moot:
                self.close_moot(appeal)
                expected += 1
            elif appeal.state in OPEN and self.env.now >= appeal.due:
                report = self.reports[appeal.report]
                appeal.state = report.status = "overturned"
                appeal.events += ["appeal.expired", "report.overturned"]
                self.overturn(report)
                expected += 1
        assert closed == expected
        # Idempotent: nothing is left for a second run at the same time.
        assert self.env.run(self.env.appeals.run_deadlines(self.env.now)) == 0

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def database_agrees(self) -> None:
        if not self.reports:
            return
        self.env.run(self.check())

    async def check(self) -> None:
        pool = self.env.runtime.pool
        ids = [r.id for r in self.reports]
        statuses = dict(await pool.fetch("SELECT id, status FROM reports WHERE id = ANY($1)", ids))
        assert statuses == {r.id: r.status for r in self.reports}

        rows = await pool.fetch(
            "SELECT a.id, a.report_id, a.state, a.filed_via, a.withdrawn_via, "
            "a.member_response_due, a.decision_due, a.member_summary, "
            "(SELECT min(e.id) FROM events e WHERE e.appeal_id = a.id) AS opened "
            "FROM appeals a WHERE a.report_id = ANY($1) ORDER BY opened",
            ids,
        )
        states = {r["id"]: r["state"] for r in rows}
        assert states == {a.id: a.state for a in self.appeals}
        # Who acted for the buyer, the deadlines and the summary that stands.
        stored = {
            r["id"]: (
                r["filed_via"], r["withdrawn_via"], r["member_response_due"],
                r["decision_due"], r["member_summary"],
            )
            for r in rows
        }  # fmt: skip
        assert stored == {
            a.id: (a.filed_via, a.withdrawn_via, a.member_due, a.decision_due, a.summary)
            for a in self.appeals
        }
        # Legal with respect to the report, read from the database alone: at
        # most one open appeal per report, and the latest appeal of a report
        # (in ledger order) explains the report's status.
        open_per_report = Counter(r["report_id"] for r in rows if r["state"] in OPEN)
        assert all(n == 1 for n in open_per_report.values())
        latest = {r["report_id"]: r["state"] for r in rows}
        for report_id, state in latest.items():
            status = statuses[report_id]
            if state in OPEN:
                legal = {"disputed", "retracted"}  # retracted: until the worker closes it
            elif state == "overturned":
                legal = {"overturned", "retracted"}
            else:  # upheld, withdrawn: reinstated, perhaps retracted since
                legal = {"active", "retracted"}
            assert status in legal, (report_id, state, status)
        assert all(
            statuses[r.id] in ("active", "retracted") for r in self.reports if r.id not in latest
        )

        recomputed = {
            bytes(r["subject_key"]): r for r in await pool.fetch(Q["recompute_aggregates"])
        }
        maintained = await pool.fetch(
            "SELECT subject_key, active_reports, disputed, platforms, latest_confirmed_at, facts "
            "FROM subject_aggregates WHERE subject_key = ANY($1)",
            self.keys,
        )
        assert len(maintained) == len(self.keys)
        for row in maintained:
            key = bytes(row["subject_key"])
            want = recomputed[key]
            for column in ("active_reports", "disputed", "platforms", "latest_confirmed_at"):
                assert row[column] == want[column], (column, row[column], want[column])
            counting = {
                r.id: r.status
                for r in self.reports
                if key in r.keys and r.status in ("active", "disputed")
            }
            assert {f["id"]: f["s"] for f in row["facts"]} == counting

        events = await pool.fetch(
            "SELECT appeal_id, type, member_id FROM events WHERE appeal_id = ANY($1) ORDER BY id",
            [a.id for a in self.appeals],
        )
        for appeal in self.appeals:
            mine = [e for e in events if e["appeal_id"] == appeal.id]
            assert [e["type"] for e in mine] == appeal.events, appeal
            # Every appeal event lands in the reporting member's feed.
            assert {e["member_id"] for e in mine} <= {self.reports[appeal.report].member}
        sent = await pool.fetch(
            "SELECT member_id, report_id, data FROM events WHERE type = $1 AND report_id = ANY($2)",
            CORRECTION,
            ids,
        )
        got = Counter((e["member_id"], e["report_id"], tuple(e["data"]["query_ids"])) for e in sent)
        assert got == self.corrections


async def test_random_appeal_histories_keep_the_ledger_consistent(runtime: Runtime) -> None:
    env = Env(asyncio.get_running_loop(), runtime)

    class Machine(AppealMachine):
        pass

    Machine.env = env
    config = settings(
        max_examples=50,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        derandomize=False,
    )
    await asyncio.to_thread(run_state_machine_as_test, Machine, settings=config)
