"""The buyer's side of the registry: subject access, appeals, statements (SPEC section 6).

Each use case is one transaction: load → decide (``domain.appeals``, pure) →
persist, with the ledger events in the same transaction as the state change.
Locks are always taken in the ledger's order — the report row first, then the
subject aggregate rows in key order — and an appeal row is only ever changed
while its report row is locked, so the report lock serialises every writer of
an appeal and no two writers can deadlock. The appeal's own UPDATE is still a
compare-and-set on its state (CONVENTIONS habit 3): a bug that skipped the
report lock would surface as a 409, never as a lost transition.

Access-log entries are appended after the transaction commits and before the
answer leaves: an entry must never record a change that was rolled back, and
an answer must never leave before its entry is durable (SPEC section 7).

Who may see what is decided here, not in HTTP: a buyer is anyone holding a
subject token that names one of the report's subject keys; the reporting
member is the principal that filed the report; adjudicators see every appeal.
Everyone else gets the same 404 as for an appeal that does not exist, so the
existence of a report or appeal never leaks to a stranger.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg

from refund_registry.domain import appeals as machine
from refund_registry.domain import reports as rules
from refund_registry.domain import tokens
from refund_registry.domain.access import AccessRecord, encode
from refund_registry.domain.identity import KINDS
from refund_registry.domain.wire import b64url, iso
from refund_registry.errors import Conflict, NotFound
from refund_registry.services.authn import Caller
from refund_registry.services.ledger import (
    Conn,
    SubjectsChanged,
    change_report_status,
    insert_event,
    insert_events,
    lock_subjects,
)
from refund_registry.storage.accesslog import AccessLog, copy_entries, write_in_transaction
from refund_registry.storage.db import translated
from refund_registry.storage.queries import Q

__all__ = [
    "CORRECTION_WINDOW",
    "INQUIRY_WINDOW",
    "AppealService",
    "Party",
    "Subject",
    "close_for_retraction",
    "run_deadlines",
]

INQUIRY_WINDOW: Final = timedelta(days=365)
"""How far back a buyer sees the inquiries about them (SPEC section 6: 12 months)."""

CORRECTION_WINDOW: Final = timedelta(days=90)
"""Members that queried a buyer this long before an overturn are told of it."""


# The deadline worker acts on nobody's signed request; its log entries say so.
SYSTEM_ACTOR: Final = "system"
NO_SIGNED_REQUEST: Final = "-"

_OPEN: Final = frozenset(s.value for s in machine.OPEN_STATES)

_RESPONSES: Final = {
    "retract": machine.AppealAction.MEMBER_RETRACT,
    "uphold": machine.AppealAction.MEMBER_UPHOLD,
}
_OUTCOMES: Final = {
    "upheld": machine.AppealAction.ADJUDICATOR_UPHELD,
    "overturned": machine.AppealAction.ADJUDICATOR_OVERTURNED,
}


def new_appeal_id() -> str:
    return "apl_" + secrets.token_hex(10)


@dataclass(frozen=True, slots=True)
class Subject:
    """A buyer, as a verified subject token names them.

    ``keys`` are the subject keys of the token's pseudonyms, sorted and
    unique; a buyer is shown exactly what sits under these keys and nothing
    reached through another identifier (no transitive linking, SPEC section 3).
    """

    caller: Caller
    keys: tuple[bytes, ...]


Party = Subject | Caller
"""Who is acting: a buyer (``Subject``) or a principal with a signed request."""


# --- the service -------------------------------------------------------------


@dataclass
class AppealService:
    """Subject access and the appeal use cases; one instance per process.

    ``clock`` is read once per use case (tests and drills replace it);
    ``listeners`` hear the subject keys whose aggregates changed, after commit,
    as the ledger's do.
    """

    pool: asyncpg.Pool
    keyring: rules.Keyring
    access_log: AccessLog
    policy: machine.DeadlinePolicy = field(default_factory=machine.DeadlinePolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    listeners: list[SubjectsChanged] = field(default_factory=list)

    async def _changed(self, keys: Sequence[bytes]) -> None:
        if keys:
            for listener in self.listeners:
                await listener(keys)

    def _now(self) -> datetime:
        return self.clock()

    # -- identity --------------------------------------------------------------

    def subject(self, caller: Caller, pseudonyms: Sequence[Mapping[str, str]]) -> Subject:
        """Turn a verified token's pseudonyms into subject keys.

        Precondition: ``caller`` and ``pseudonyms`` come from
        ``Authenticator.subject``, which checked the signature and the shape.
        A pseudonym of an unknown kind or not 64 bytes of base64url makes the
        whole token unusable (401): the issuing member minted it wrongly, and
        silently dropping an identifier would hide part of the buyer's record.
        """
        keys: set[bytes] = set()
        for index, item in enumerate(pseudonyms):
            raw = rules.b64url_decode(item["value"])
            if item["kind"] not in KINDS or raw is None or len(raw) != rules.PSEUDONYM_BYTES:
                raise tokens.fail(
                    "pseudonym",
                    f"pseudonyms[{index}] must have a known kind and an 86-character "
                    "base64url pseudonym",
                )
            keys.add(self.keyring.subject_key(raw))
        return Subject(caller=caller, keys=tuple(sorted(keys)))

    # -- subject access ----------------------------------------------------------

    async def record(self, subject: Subject) -> dict[str, Any]:
        """Everything on record under the token's keys: reports, inquiries, appeals.

        Read in one repeatable-read snapshot, so the three lists agree with
        each other; logged as ``subject.access`` before it is returned.
        """
        now = self._now()
        keys = list(subject.keys)
        async with (
            translated(),
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            reports = await conn.fetch(Q["subject_reports"], keys)
            inquiries = await conn.fetch(Q["subject_inquiries"], keys, now - INQUIRY_WINDOW)
            appeals = await conn.fetch(Q["appeals_of_reports"], [r["id"] for r in reports])
            statement = await conn.fetchval(Q["subject_statement"], keys)
        answer = {
            "reports": [_record_report(r) for r in reports],
            "inquiries": [
                {"member": r["member_name"], "at": iso(r["at"]), "purpose": r["purpose"]}
                for r in inquiries
            ],
            "appeals": [_appeal_summary(a) for a in appeals],
            "statement": statement,
        }
        await self.access_log.append(
            _entry(subject, "subject.access", now, subject.keys, outcome="ok")
        )
        return answer

    async def set_statement(self, subject: Subject, statement: str | None) -> dict[str, Any]:
        """Attach (or, with ``None``, remove) the buyer's statement on the token's subjects.

        Allowed only once an appeal filed under one of the token's keys ended
        ``upheld``: the statement is the buyer's answer to a decision against
        them (SPEC section 6), not a second appeal channel. It is stored on
        every aggregate row the token names (a key with nothing on record has
        no row, and gets none: there is nothing for a statement to explain).
        """
        machine.check_subject_statement(statement)
        now = self._now()
        keys = list(subject.keys)
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(Q["upheld_appeal_exists"], keys):
                raise Conflict(
                    "a statement can be attached only after an appeal was decided against "
                    "you (upheld)",
                    code="subject.statement_not_allowed",
                )
            # Lock in key order before the UPDATE, as every aggregate writer does.
            await lock_subjects(conn, keys)
            rows = await conn.fetch(Q["set_statement"], keys, statement)
            stored = sorted(bytes(r["subject_key"]) for r in rows)
            await write_in_transaction(
                conn,
                _entry(
                    subject,
                    "subject.statement",
                    now,
                    stored,
                    outcome="set" if statement is not None else "removed",
                ),
            )
        await self._changed(stored)
        return {"statement": statement, "subjects": len(stored), "updated_at": iso(now)}

    # -- appeals -------------------------------------------------------------------

    async def open(
        self, subject: Subject, report_id: str, grounds: str, statement: str
    ) -> dict[str, Any]:
        """File an appeal against a report on the buyer's own identifiers.

        A report not under any of the token's keys is a 404, exactly as a
        report that does not exist. The domain then decides (only an active
        report, valid grounds and statement); the report becomes ``disputed``
        and its facts are relabelled in the same transaction, so the very
        next risk query weighs it as disputed.
        """
        now = self._now()
        appeal_id = new_appeal_id()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            report = await conn.fetchrow(Q["lock_report"], report_id)
            matched = _buyer_keys(subject, report)
            if report is None or not matched:
                raise NotFound(f"no report {report_id!r} on your record", code="report.not_found")
            appeal = machine.open_appeal(report["status"], grounds, statement, now, self.policy)
            keys = sorted(bytes(k) for k in report["subject_keys"])
            facts = await lock_subjects(conn, keys)
            await change_report_status(
                conn, report_id, facts, "active", "disputed", now, f"appeal {appeal_id}"
            )
            member_id = report["member_id"]
            await conn.execute(
                Q["insert_appeal"], appeal_id, report_id, member_id,
                subject.caller.principal_id, matched, appeal.grounds.value, appeal.statement,
                appeal.state.value, now, appeal.member_response_due, appeal.decision_due,
            )  # fmt: skip
            await insert_event(
                conn, now, machine.OPENED_EVENT, member_id, report_id, appeal_id,
                {"by": "buyer", "grounds": appeal.grounds.value,
                 "member_response_due": iso(appeal.member_response_due),
                 "decision_due": iso(appeal.decision_due)},
            )  # fmt: skip
            await insert_event(
                conn, now, "report.disputed", member_id, report_id, appeal_id, {"by": "buyer"}
            )
            view = await _view(conn, appeal_id, machine.ActorRole.BUYER)
            await write_in_transaction(
                conn,
                _entry(
                    subject, "appeal.open", now, matched, outcome=view["state"], appeal=appeal_id
                ),
            )
        await self._changed(keys)
        return view

    async def read(self, party: Party, appeal_id: str) -> dict[str, Any]:
        """One appeal as ``party`` may see it; 404 for anyone without standing."""
        now = self._now()
        async with (
            translated(),
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            report_id = await conn.fetchval(Q["appeal_report_id"], appeal_id)
            report = await conn.fetchrow(Q["appeal_report"], report_id) if report_id else None
            role, seen = _standing(party, report, appeal_id)
            view = await _view(conn, appeal_id, role)
        await self.access_log.append(
            _entry(party, "appeal.read", now, seen, outcome=view["state"], appeal=appeal_id)
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
        step = _RESPONSES.get(action)
        if step is None:
            raise machine.UnknownAction(
                "action must be 'retract' or 'uphold'", extra={"allowed": sorted(_RESPONSES)}
            )
        keep = summary if step is machine.AppealAction.MEMBER_UPHOLD else None
        return await self._act(caller, appeal_id, step, summary=keep)

    async def decide(
        self, caller: Caller, appeal_id: str, outcome: str, rationale: str
    ) -> dict[str, Any]:
        """An adjudicator decides an appeal the member upheld, giving reasons.

        The rationale is required: both parties are entitled to know why
        (PIPL art. 24 gives the buyer a right to an explanation).
        """
        step = _OUTCOMES.get(outcome)
        if step is None:
            raise machine.UnknownAction(
                "outcome must be 'upheld' or 'overturned'", extra={"allowed": sorted(_OUTCOMES)}
            )
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
        now = self._now()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            report_id = await conn.fetchval(Q["appeal_report_id"], appeal_id)
            # The report row first: it serialises every writer of this appeal.
            report = await conn.fetchrow(Q["lock_report"], report_id) if report_id else None
            role, seen = _standing(party, report, appeal_id)
            assert report is not None  # _standing refuses a missing report
            row = await _existing(conn, "get_appeal", appeal_id)
            if row["state"] in _OPEN and report["status"] != "disputed":
                # The ledger took the report off the record (retraction, expiry)
                # while the appeal was open; the worker closes such appeals.
                raise Conflict(
                    f"the report is {report['status']} already; this appeal is being closed",
                    code="appeal.report_closed",
                    extra={"state": row["state"], "report_status": report["status"]},
                )
            step = machine.transition(_domain(row), action, role, now, summary=summary)
            data: dict[str, Any] = {"by": role.value}
            if action in (
                machine.AppealAction.MEMBER_RETRACT,
                machine.AppealAction.MEMBER_UPHOLD,
            ):
                data["action"] = "retract" if action is _RESPONSES["retract"] else "uphold"
            if rationale is not None:
                data["outcome"] = step.new_state.value
            keys = await _apply(
                conn, row, report, step, now, data,
                summary=summary, rationale=rationale,
                answered=role == machine.ActorRole.MEMBER,
            )  # fmt: skip
            view = await _view(conn, appeal_id, role)
            await write_in_transaction(
                conn,
                _entry(
                    party, _LOG_ACTION[action], now, seen, outcome=view["state"], appeal=appeal_id
                ),
            )
        await self._changed(keys)
        return view

    async def run_deadlines(self, as_of: datetime, *, batch: int = 100) -> int:
        """See :func:`run_deadlines`."""
        return await run_deadlines(self.pool, as_of, batch=batch, listeners=self.listeners)


_LOG_ACTION: Final = {
    machine.AppealAction.BUYER_WITHDRAW: "appeal.withdraw",
    machine.AppealAction.MEMBER_RETRACT: "appeal.response",
    machine.AppealAction.MEMBER_UPHOLD: "appeal.response",
    machine.AppealAction.ADJUDICATOR_UPHELD: "appeal.decision",
    machine.AppealAction.ADJUDICATOR_OVERTURNED: "appeal.decision",
    machine.AppealAction.DEADLINE: "appeal.deadline",
}


# --- background work -----------------------------------------------------------


async def run_deadlines(
    pool: asyncpg.Pool,
    as_of: datetime,
    *,
    batch: int = 100,
    listeners: Iterable[SubjectsChanged] = (),
) -> int:
    """Close every open appeal that is due at ``as_of``; return how many were closed.

    Two kinds are due: those whose governing deadline has passed (the domain's
    ``deadline`` transition: the report is overturned), and those whose report
    the ledger already took off the record by another route (retracted or
    expired while the appeal was open; see :func:`close_for_retraction`).

    Idempotent: a second run as of the same time finds nothing to do. Safe in
    several processes at once: each batch claims its report rows with
    ``FOR UPDATE SKIP LOCKED`` (report first, as everywhere), then locks every
    subject key of the batch in key order before changing anything.
    Precondition: ``as_of`` is timezone-aware.
    """
    total = 0
    while True:
        entries: list[AccessRecord] = []
        touched: list[bytes] = []
        async with translated(), pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetch(Q["claim_due_appeals"], as_of, batch)
            if not claimed:
                break
            await lock_subjects(
                conn, sorted({bytes(k) for r in claimed for k in r["subject_keys"]})
            )
            appeals = {
                a["id"]: a
                for a in await conn.fetch(Q["get_appeals"], [c["appeal_id"] for c in claimed])
            }
            for report in claimed:  # each claimed row is the locked report of its appeal
                row = appeals[report["appeal_id"]]
                keys = [bytes(k) for k in report["subject_keys"]]
                if row["state"] not in _OPEN:
                    continue  # closed between the claim's snapshot and its lock
                if report["status"] != "disputed":
                    reason = await _close_moot(
                        conn, row, report["status"], keys, as_of, by="system"
                    )
                    touched.extend(keys)
                else:
                    try:
                        step = machine.transition(
                            _domain(row), machine.AppealAction.DEADLINE,
                            machine.ActorRole.SYSTEM, as_of,
                        )  # fmt: skip
                    except machine.IllegalTransition:
                        continue  # the state moved on and is no longer due
                    missed = machine.DUE_FIELD[machine.AppealState(row["state"])]
                    touched.extend(
                        await _apply(conn, row, report, step, as_of,
                                     {"by": "system", "missed": missed})
                    )  # fmt: skip
                    reason = f"{missed}_passed"
                entries.append(
                    AccessRecord(
                        at=as_of,
                        actor=SYSTEM_ACTOR,
                        role=machine.ActorRole.SYSTEM.value,
                        action="appeal.deadline",
                        request_digest=NO_SIGNED_REQUEST,
                        subject_keys=keys,
                        outcome=machine.AppealState.OVERTURNED.value,
                        detail={"appeal_id": row["id"], "reason": reason},
                    )
                )
            # Logged in the same transaction as the transitions they record.
            await copy_entries(conn, [encode(e) for e in entries])
        if not entries:
            break  # everything claimed had moved on; nothing left that is due
        for listener in listeners:
            await listener(sorted(set(touched)))
        total += len(entries)
    return total


async def close_for_retraction(
    conn: Conn, report_id: str, keys: Sequence[bytes], now: datetime
) -> str | None:
    """Close the open appeal of a report its member has just retracted (its subject
    keys: ``keys``); return the appeal's id.

    For ``Ledger.retract``, inside its transaction, after it set the report to
    ``retracted`` (it holds the report row lock, and the aggregates no longer
    count the report). The appeal ends ``overturned`` with the reason
    ``report_retracted``: the buyer got what the appeal asked for, and every
    member that queried the buyer in the last 90 days is told, as for any
    overturn. Without this call the deadline worker closes the appeal the same
    way on its next pass.
    """
    row = await conn.fetchrow(Q["open_appeal_of_report"], report_id)
    if row is None:
        return None
    await _close_moot(conn, row, "retracted", keys, now, by="member")
    return str(row["id"])


# --- shared steps (inside a transaction, report row locked) ----------------------------


async def _apply(
    conn: Conn,
    row: asyncpg.Record,
    report: asyncpg.Record,
    step: machine.Transition,
    now: datetime,
    data: dict[str, Any],
    *,
    summary: str | None = None,
    rationale: str | None = None,
    answered: bool = False,
) -> list[bytes]:
    """Persist one decided transition and its effect on the report.

    Returns the subject keys whose aggregates changed. The report effect is
    applied only to a report that is still ``disputed``: the open-appeal
    check before the decision guarantees it for party actions.
    """
    appeal_id, report_id, member_id = row["id"], row["report_id"], row["member_id"]
    effect = step.report_effect
    keys = sorted(bytes(k) for k in report["subject_keys"]) if effect else []
    facts = await lock_subjects(conn, keys) if keys else {}
    await _set_state(
        conn, row, step.new_state.value, now,
        summary=summary, rationale=rationale, answered_at=now if answered else None,
    )  # fmt: skip
    await insert_event(conn, now, step.event_type, member_id, report_id, appeal_id, data)
    if effect is None:
        return []
    await change_report_status(
        conn, report_id, facts, "disputed", machine.REPORT_STATUS_AFTER[effect], now,
        f"appeal {appeal_id}: {step.new_state.value}",
    )  # fmt: skip
    event = "report.overturned" if effect == "overturned" else "report.reinstated"
    await insert_event(conn, now, event, member_id, report_id, appeal_id, {"by": data["by"]})
    if effect == "overturned":
        await _send_corrections(conn, report_id, keys, now)
    return keys


async def _close_moot(
    conn: Conn,
    row: asyncpg.Record,
    report_status: str,
    keys: Sequence[bytes],
    now: datetime,
    *,
    by: str,
) -> str:
    """Close an open appeal whose report left ``disputed`` by a ledger route.

    Not a transition of ``domain.appeals``: no party acts on the appeal; the
    report it contests was retracted or expired, so there is nothing left to
    decide. The appeal ends ``overturned`` (the report no longer counts, which
    is what the buyer asked for); a retraction also corrects the members that
    queried the buyer, since a refusal may have rested on the report.
    """
    reason = f"report_{report_status}"
    await _set_state(conn, row, machine.AppealState.OVERTURNED.value, now, closed_reason=reason)
    await insert_event(
        conn, now, "appeal.closed", row["member_id"], row["report_id"], row["id"],
        {"by": by, "reason": reason},
    )  # fmt: skip
    if report_status == "retracted":
        await _send_corrections(conn, row["report_id"], sorted(keys), now)
    return reason


async def _set_state(
    conn: Conn,
    row: asyncpg.Record,
    state: str,
    now: datetime,
    *,
    summary: str | None = None,
    rationale: str | None = None,
    closed_reason: str | None = None,
    answered_at: datetime | None = None,
) -> None:
    decided_at = None if machine.AppealState(state) in machine.OPEN_STATES else now
    version = await conn.fetchval(
        Q["set_appeal_state"], row["id"], row["state"], state, summary, rationale,
        closed_reason, answered_at, decided_at,
    )  # fmt: skip
    if version is None:  # pragma: no cover - the report row lock makes this unreachable
        current = await conn.fetchval(Q["appeal_state"], row["id"])
        raise machine.IllegalTransition(
            f"the appeal moved to {current} first", state=machine.AppealState(current)
        )


async def _send_corrections(
    conn: Conn, report_id: str, keys: Sequence[bytes], now: datetime
) -> None:
    """Tell each member that queried these subjects in the last 90 days, naming its queries.

    Every member gets only its own query ids: another member's queries are
    none of its business. The event carries no subject key (events never do).
    """
    if not keys:
        return
    rows = await conn.fetch(Q["queriers_of_subjects"], list(keys), now - CORRECTION_WINDOW, now)
    await insert_events(
        conn,
        [
            (now, "report.overturned_after_your_query", r["member_id"], report_id, None,
             {"query_ids": list(r["query_ids"]), "last_queried_at": iso(r["last_queried_at"])})
            for r in rows
        ],
    )  # fmt: skip


async def _existing(conn: Conn, query: str, *args: Any) -> asyncpg.Record:
    """A row that must exist: the caller holds the lock (or snapshot) that keeps it there."""
    row = await conn.fetchrow(Q[query], *args)
    assert row is not None, f"{query}{args!r} found nothing"
    return row


# --- who may see what ----------------------------------------------------------------


def _buyer_keys(subject: Subject, report: asyncpg.Record | None) -> list[bytes]:
    """The token's keys that the report is filed under (empty: not the buyer's report)."""
    if report is None:
        return []
    on_report = {bytes(k) for k in report["subject_keys"]}
    return [k for k in subject.keys if k in on_report]


def _standing(
    party: Party, report: asyncpg.Record | None, appeal_id: str
) -> tuple[machine.ActorRole, list[bytes]]:
    """The party's role in this appeal and the subject keys its access touches.

    Raises the one 404 for every kind of stranger, and for a missing appeal.
    """
    if report is not None:
        if isinstance(party, Subject):
            matched = _buyer_keys(party, report)
            if matched:
                return machine.ActorRole.BUYER, matched
        else:
            keys = sorted(bytes(k) for k in report["subject_keys"])
            if party.role == "member" and party.principal_id == report["member_id"]:
                return machine.ActorRole.MEMBER, keys
            if party.role == "adjudicator":
                return machine.ActorRole.ADJUDICATOR, keys
    raise NotFound(f"no appeal {appeal_id!r}", code="appeal.not_found")


def _entry(
    party: Party,
    action: str,
    at: datetime,
    keys: Sequence[bytes],
    *,
    outcome: str,
    appeal: str | None = None,
) -> AccessRecord:
    caller = party.caller if isinstance(party, Subject) else party
    return AccessRecord(
        at=at,
        actor=caller.principal_id,
        role="buyer" if isinstance(party, Subject) else caller.role,
        action=action,
        request_digest=caller.request_digest,
        subject_keys=list(keys),
        outcome=outcome,
        detail={"appeal_id": appeal} if appeal else {},
    )


# --- views -------------------------------------------------------------------------------


def _domain(row: asyncpg.Record) -> machine.Appeal:
    return machine.Appeal(
        state=machine.AppealState(row["state"]),
        grounds=machine.Grounds(row["grounds"]),
        statement=row["statement"],
        filed_at=row["filed_at"],
        member_response_due=row["member_response_due"],
        decision_due=row["decision_due"],
    )


async def _view(conn: Conn, appeal_id: str, role: machine.ActorRole) -> dict[str, Any]:
    """The appeal as one party sees it, from the transaction's own snapshot.

    Every party sees the state, deadlines, grounds, statement, the member's
    summary, the rationale and the history: an appeal is adversarial, and
    each side must know what the other put forward. Only the reporting
    member and adjudicators see the member's case reference and the evidence
    digest, which are the member's own bookkeeping.
    """
    row = await _existing(conn, "get_appeal", appeal_id)
    report = await _existing(conn, "appeal_report", row["report_id"])
    history = await conn.fetch(Q["appeal_history"], appeal_id, row["report_id"], row["filed_at"])
    report_view: dict[str, Any] = {
        "status": report["status"],
        "status_changed_at": iso(report["status_changed_at"]),
        "member": report["member_name"],
        "category": report["category"],
        "amount": {"minor_units": report["amount_minor"], "currency": report["currency"]},
        "order_date": report["order_date"].isoformat(),
        "refund_date": report["refund_date"].isoformat(),
        "confirmed_at": iso(report["confirmed_at"]),
    }
    if role is not machine.ActorRole.BUYER:
        report_view["case_reference"] = report["case_reference"]
        report_view["evidence_digest"] = b64url(report["evidence_digest"])
    return {
        **_appeal_summary(row),
        "statement": row["statement"],
        "answered_at": iso(row["answered_at"]),
        "member_summary": row["member_summary"],
        "decision_rationale": row["decision_rationale"],
        "report": report_view,
        "history": [{"type": h["type"], "at": iso(h["at"]), **h["data"]} for h in history],
    }


def _appeal_summary(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "appeal_id": row["id"],
        "report_id": row["report_id"],
        "state": row["state"],
        "grounds": row["grounds"],
        "filed_at": iso(row["filed_at"]),
        "member_response_due": iso(row["member_response_due"]),
        "decision_due": iso(row["decision_due"]),
        "closed_at": iso(row["decided_at"]),
        "closed_reason": row["closed_reason"],
    }


def _record_report(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "report_id": row["id"],
        "member": row["member_name"],
        "category": row["category"],
        "amount": {"minor_units": row["amount_minor"], "currency": row["currency"]},
        "order_date": row["order_date"].isoformat(),
        "refund_date": row["refund_date"].isoformat(),
        "confirmed_at": iso(row["confirmed_at"]),
        "filed_at": iso(row["filed_at"]),
        "status": row["status"],
        "status_changed_at": iso(row["status_changed_at"]),
        "expires_at": iso(row["expires_at"]),
        "matched_kinds": list(row["matched_kinds"]),
    }
