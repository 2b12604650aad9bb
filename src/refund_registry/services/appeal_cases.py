"""Appeals against reports: filed by the buyer, answered by the reporting
member, decided by an adjudicator.

Each use case is one transaction: load → decide (``domain.appeals``, pure) →
persist, with the ledger events in the same transaction as the state change.
Locks follow the ledger's order — the report row first, then the subject
aggregate rows in key order — and an appeal row is only ever changed while
its report row is locked, so the report lock serialises every writer of an
appeal. The appeal's own UPDATE is still a compare-and-set on its state: a
bug that skipped the report lock would surface as a 409, never as a lost
transition.

Reads are logged after the snapshot closes and before the answer leaves;
changes are logged in their own transaction, so an entry never records a
change that was rolled back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import asyncpg

from refund_registry.domain import appeal_access
from refund_registry.domain import appeals as machine
from refund_registry.domain.wire import iso
from refund_registry.errors import Conflict, NotFound
from refund_registry.services.appeal_closing import apply_transition
from refund_registry.services.appeal_views import acted_by, appeal_view, to_domain
from refund_registry.services.authn import Caller
from refund_registry.services.locking import (
    SubjectsChanged,
    change_report_status,
    lock_subjects,
    notify,
)
from refund_registry.services.parties import Party, Subject, entry, standing
from refund_registry.storage import appeals as appeal_rows
from refund_registry.storage import events
from refund_registry.storage import reports as report_rows
from refund_registry.storage.accesslog import AccessLog, write_in_transaction
from refund_registry.storage.db import translated

_OPEN: Final = frozenset(s.value for s in machine.OPEN_STATES)


def new_appeal_id() -> str:
    return "apl_" + secrets.token_hex(10)


def acting_via(subject: Subject) -> str | None:
    """The member a buyer acts through (``None``: the buyer acts directly).

    The one place that knows how a buyer reached the registry: their session
    says whether a member handed them over, and which.
    """
    return subject.via_member


def past_appeals(rows: list[appeal_rows.PriorAppeal]) -> list[machine.PastAppeal]:
    """A report's stored appeals as the appeal limits see them."""
    return [
        machine.PastAppeal(r.id, machine.AppealState(r.state), r.filed_at, r.decided_at)
        for r in rows
    ]


class AppealCases:
    """The appeal use cases (composed into ``services.appeals.AppealService``)."""

    pool: asyncpg.Pool
    access_log: AccessLog
    policy: machine.DeadlinePolicy
    clock: Callable[[], datetime]
    listeners: list[SubjectsChanged]

    async def open(
        self, subject: Subject, report_id: str, grounds: str, statement: str
    ) -> dict[str, Any]:
        """File an appeal against a report on the buyer's own identifiers.

        A report not under any of the token's keys is a 404, exactly as a
        report that does not exist. The domain then decides, from the report's
        status and its earlier appeals (only an active report; not too soon
        after a withdrawal; only ``new_evidence`` after a decision; valid
        grounds and statement); the report becomes ``disputed`` and its facts
        are relabelled in the same transaction, so the very next risk query
        weighs it as disputed. An appeal on new evidence starts at
        adjudication with the decided appeal's member summary.
        """
        now = self.clock()
        appeal_id = new_appeal_id()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            report = await report_rows.lock_report(conn, report_id)
            matched = appeal_access.buyer_keys(subject.keys, report.subject_keys) if report else []
            if report is None or not matched:
                raise NotFound(f"no report {report_id!r} on your record", code="report.not_found")
            # Under the report row lock: no appeal of this report starts or ends meanwhile.
            prior = await appeal_rows.previous_of_report(conn, report_id)
            previous = past_appeals(prior)
            appeal = machine.open_appeal(
                report.status, grounds, statement, now, self.policy, previous=previous
            )
            # On new evidence, the decided appeal's member summary stands.
            follows, summary = None, None
            if appeal.grounds is machine.Grounds.NEW_EVIDENCE:
                follows = machine.standing_decision(previous)
                assert follows is not None  # the domain refuses new_evidence without one
                summary = next(r.member_summary for r in prior if r.id == follows.id)
            via = acting_via(subject)
            keys = sorted(report.subject_keys)
            facts = await lock_subjects(conn, keys)
            await change_report_status(
                conn, report_id, facts, "active", "disputed", now, f"appeal {appeal_id}"
            )
            member_id = report.member_id
            await appeal_rows.insert(
                conn,
                appeal_rows.NewAppeal(
                    id=appeal_id, report_id=report_id, member_id=member_id,
                    filed_via=via, subject_keys=matched,
                    grounds=appeal.grounds.value, statement=appeal.statement,
                    state=appeal.state.value, filed_at=now,
                    member_response_due=appeal.member_response_due,
                    decision_due=appeal.decision_due, member_summary=summary,
                ),
            )  # fmt: skip
            opened: dict[str, Any] = {
                "by": "buyer", "filed_by": acted_by(via), "grounds": appeal.grounds.value,
                "state": appeal.state.value,
                "member_response_due": iso(appeal.member_response_due),
                "decision_due": iso(appeal.decision_due),
            }  # fmt: skip
            if follows is not None:
                opened["follows"] = follows.id  # the decided appeal it contests
            await events.append_many(
                conn,
                [
                    events.Event(
                        now, machine.OPENED_EVENT, member_id, report_id, appeal_id, opened
                    ),
                    events.Event(
                        now, "report.disputed", member_id, report_id, appeal_id, {"by": "buyer"}
                    ),
                ],
            )  # fmt: skip
            view = await appeal_view(conn, appeal_id, machine.ActorRole.BUYER)
            await write_in_transaction(
                conn,
                entry(
                    subject, "appeal.open", now, matched, outcome=view["state"], appeal=appeal_id
                ),
            )
        await notify(self.listeners, keys)
        return view

    async def read(self, party: Party, appeal_id: str) -> dict[str, Any]:
        """One appeal as ``party`` may see it; 404 for anyone without standing."""
        now = self.clock()
        async with (
            translated(),
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            report_id = await appeal_rows.report_id_of(conn, appeal_id)
            report = await appeal_rows.contested_report(conn, report_id) if report_id else None
            role, seen = standing(
                party,
                appeal_id,
                report.member_id if report else None,
                report.subject_keys if report else (),
            )
            view = await appeal_view(conn, appeal_id, role)
        await self.access_log.append(
            entry(party, "appeal.read", now, seen, outcome=view["state"], appeal=appeal_id)
        )
        return view

    async def withdraw(self, subject: Subject, appeal_id: str) -> dict[str, Any]:
        """The buyer withdraws an open appeal; the report counts again as before."""
        return await self._act(subject, appeal_id, machine.AppealAction.BUYER_WITHDRAW)

    async def respond(
        self, caller: Caller, appeal_id: str, action: str, summary: str | None
    ) -> dict[str, Any]:
        """The reporting member answers: ``retract`` (report overturned) or ``uphold``.

        ``uphold`` needs a summary of the member's evidence (checked by the
        domain); a summary sent with ``retract`` is ignored, as the domain does.
        """
        step = appeal_access.response_action(action)
        keep = summary if step is machine.AppealAction.MEMBER_UPHOLD else None
        return await self._act(caller, appeal_id, step, summary=keep)

    async def decide(
        self, caller: Caller, appeal_id: str, outcome: str, rationale: str
    ) -> dict[str, Any]:
        """An adjudicator decides an appeal the member upheld, giving reasons.

        The rationale is required: both parties are entitled to know why
        (PIPL art. 24 gives the buyer a right to an explanation).
        """
        step = appeal_access.decision_action(outcome)
        machine.check_rationale(rationale)
        return await self._act(caller, appeal_id, step, rationale=rationale)

    async def _act(
        self,
        party: Party,
        appeal_id: str,
        action: machine.AppealAction,
        *,
        summary: str | None = None,
        rationale: str | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            report_id = await appeal_rows.report_id_of(conn, appeal_id)
            # The report row first: it serialises every writer of this appeal.
            report = await report_rows.lock_report(conn, report_id) if report_id else None
            role, seen = standing(
                party,
                appeal_id,
                report.member_id if report else None,
                report.subject_keys if report else (),
            )
            assert report is not None  # standing refuses a missing report
            row = await appeal_rows.get(conn, appeal_id)
            assert row is not None  # the report row lock keeps it there
            if row.state in _OPEN and report.status != "disputed":
                # The ledger took the report off the record (retraction, expiry)
                # while the appeal was open; the worker closes such appeals.
                raise Conflict(
                    f"the report is {report.status} already; this appeal is being closed",
                    code="appeal.report_closed",
                    extra={"state": row.state, "report_status": report.status},
                )
            step = machine.transition(to_domain(row), action, role, now, summary=summary)
            data: dict[str, Any] = {
                **appeal_access.event_data(role, action, step, decided=rationale is not None)
            }
            via: str | None = None
            if action is machine.AppealAction.BUYER_WITHDRAW:
                assert isinstance(party, Subject)  # only a buyer has the buyer role
                via = acting_via(party)
                data["withdrawn_by"] = acted_by(via)
            keys = await apply_transition(
                conn, row, report.subject_keys, step, now, data,
                summary=summary, rationale=rationale,
                answered=role == machine.ActorRole.MEMBER, withdrawn_via=via,
            )  # fmt: skip
            view = await appeal_view(conn, appeal_id, role)
            await write_in_transaction(
                conn,
                entry(
                    party,
                    appeal_access.LOG_ACTION[action],
                    now,
                    seen,
                    outcome=view["state"],
                    appeal=appeal_id,
                ),
            )
        if keys:
            await notify(self.listeners, keys)
        return view
