"""The report ledger's use cases: file (single and bulk), read, retract, feed, expire.

Each use case is one transaction: load → decide (pure domain rules) → persist,
with the ledger event written in the same transaction as the state change.
Writers hold a subject's aggregate row from before they read its facts until
they commit, and take their locks in one order (report rows, then new
subjects, then existing subjects, each in key order; see ``add_facts``): no
lost updates, however many members report one buyer at once, and no cycle of
waits. A filing that meets a concurrent change it cannot merge (a case
reference filed meanwhile, a subject's row deleted between its two phases)
rolls back and runs again.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import reports as rules
from refund_registry.domain.access import AccessRecord, EncodedEntry
from refund_registry.domain.access import encode as encode_access
from refund_registry.domain.wire import iso
from refund_registry.errors import Conflict, InvalidInput, NotFound
from refund_registry.storage.accesslog import (
    AccessLog,
    copy_entries,
    receipt_for,
    write_in_transaction,
)
from refund_registry.storage.db import translated
from refund_registry.storage.queries import Q

MAX_BULK = 10_000
_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit accepts '²'
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
SubjectsChanged = Callable[[Sequence[bytes]], Awaitable[None]]


def new_report_ids(count: int) -> list[str]:
    """``rpt_`` + milliseconds since 1970 (12 hex digits) + 64 random bits.

    Time-ordered, so the indexes on report ids grow at their right edge
    instead of touching a random page per report; the random parts come from
    one draw of the system's generator per batch.
    """
    stamp = f"rpt_{time.time_ns() // 1_000_000:012x}"
    block = secrets.token_hex(8 * count)
    return [stamp + block[i : i + 16] for i in range(0, 16 * count, 16)]


_ATTEMPTS = 5
_T = TypeVar("_T")


class _Race(Exception):
    """A concurrent writer changed what this transaction relied on: run it again."""


def _refusal(violations: Sequence[rules.Violation]) -> InvalidInput:
    """A 422 naming the first broken rule, and listing every one."""
    first = violations[0]
    return InvalidInput(
        f"{first.field}: {first.detail}",
        code=first.code,
        extra={"violations": [asdict(v) for v in violations]},
    )


def report_answer(row: dict[str, Any] | asyncpg.Record) -> dict[str, Any]:
    return {
        "report_id": row["id"],
        "status": row["status"],
        "expires_at": iso(row["expires_at"]),
        "receipt": row["receipt"],
    }


class Prepared(msgspec.Struct, frozen=True):
    """A validated report with its subject keys computed (``index``: its place
    in a bulk upload)."""

    id: str
    report: rules.ReportInput
    request_hash: bytes
    keys: tuple[bytes, ...]
    kinds: tuple[str, ...]
    digest: bytes
    index: int = 0


@dataclass
class Ledger:
    pool: asyncpg.Pool
    keyring: rules.Keyring
    retention: rules.RetentionPolicy = field(default_factory=rules.RetentionPolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    listeners: list[SubjectsChanged] = field(default_factory=list)
    log_key: ed25519.Ed25519PrivateKey | None = None

    async def _log(
        self,
        conn: Conn,
        record: AccessRecord,
    ) -> dict[str, str] | None:
        """Write the access-log entry of this change in its own transaction; its receipt."""
        encoded = await write_in_transaction(conn, record)
        return receipt_for(encoded, self.log_key) if self.log_key is not None else None

    async def _retrying(self, attempt: Callable[[Conn], Awaitable[_T]]) -> _T:
        """``attempt`` in a transaction of its own; again, from the start, after a ``_Race``."""
        async with translated(), self.pool.acquire() as conn:
            for _ in range(_ATTEMPTS):
                try:
                    async with conn.transaction():
                        return await attempt(conn)
                except _Race:
                    continue
        raise Conflict(
            "concurrent changes to the same records kept interrupting this request; retry",
            code="report.concurrent_change",
        )

    async def _changed(self, keys: Sequence[bytes]) -> None:
        for listener in self.listeners:
            await listener(keys)

    def prepare(self, report: rules.ReportInput, now: datetime) -> Prepared:
        """Validate one report (raising on the first broken rules) and key it."""
        violations = rules.validate(report, now)
        if violations:
            raise _refusal(violations)
        return self._key(report, new_report_ids(1)[0])

    def _key(self, report: rules.ReportInput, report_id: str, index: int = 0) -> Prepared:
        keys = []
        for ident in report.identifiers:
            raw = rules.b64url_decode(ident.pseudonym)
            assert raw is not None  # validated
            keys.append(self.keyring.subject_key(raw))
        digest = rules.b64url_decode(report.evidence_digest)
        assert digest is not None
        return Prepared(
            id=report_id,
            report=report,
            request_hash=rules.request_hash(report),
            keys=tuple(keys),
            kinds=tuple(i.kind for i in report.identifiers),
            digest=digest,
            index=index,
        )

    # -- single intake ---------------------------------------------------------

    async def file(
        self, member_id: str, report: rules.ReportInput, *, request_digest: str = ""
    ) -> tuple[bool, dict[str, Any]]:
        """File one report; ``(created, answer)``. A retry returns the first answer.

        The filing is logged in the access log in the same transaction, and its
        receipt is kept with the report so that a retry returns it too.
        """
        now = self.clock()
        p = self.prepare(report, now)
        created, answer = await self._retrying(
            lambda conn: self._file_in(conn, member_id, p, now, request_digest)
        )
        if created:
            await self._changed(p.keys)
        return created, answer

    async def _file_in(
        self, conn: Conn, member_id: str, p: Prepared, now: datetime, request_digest: str
    ) -> tuple[bool, dict[str, Any]]:
        r = p.report
        expires = self._expiry(r, repeat=False)
        # The report row first (a concurrent retry waits here, then finds it),
        # then the subjects' aggregates: the order every writer follows.
        inserted = await conn.fetchval(
            Q["insert_report"],
            p.id,
            member_id,
            r.case_reference,
            p.request_hash,
            r.category,
            r.amount_minor,
            r.currency,
            r.order_date,
            r.refund_date,
            r.confirmed_at,
            r.buyer_notified_at,
            now,
            list(r.evidence_kinds),
            p.digest,
            list(p.kinds),
            list(p.keys),
            self.keyring.version,
            expires,
        )
        if inserted is None:
            existing = await conn.fetchrow(Q["report_by_case"], member_id, r.case_reference)
            assert existing is not None
            if existing["request_hash"] != p.request_hash:
                raise Conflict(
                    f"case reference {r.case_reference!r} was already filed with different content",
                    code="report.case_reference_conflict",
                    extra={"report_id": existing["id"]},
                )
            return False, report_answer(existing)
        fact = _fact(p, member_id)
        before = await add_facts(
            conn, {k: [fact] for k in p.keys}, dict(zip(p.keys, p.kinds, strict=True))
        )
        if any(rules.is_repeat(member_id, f) for f in before.values()):
            expires = self._expiry(r, repeat=True)
            await conn.execute(Q["set_expiry"], [p.id], [expires])
        ended = rules.retention_ended(expires, now)
        if ended is not None:  # rolls the transaction back
            raise _refusal([ended])
        receipt = await self._log(
            conn,
            AccessRecord(
                at=now,
                actor=member_id,
                role="member",
                action="report.file",
                request_digest=request_digest,
                subject_keys=p.keys,
                outcome="filed",
                detail={"report_id": p.id, "category": r.category},
            ),
        )
        if receipt is not None:
            await conn.execute(Q["set_receipt"], p.id, receipt)
        await insert_event(
            conn, now, "report.filed", member_id, p.id, None,
            {"case_reference": r.case_reference, "category": r.category},
        )  # fmt: skip
        answer = {"id": p.id, "status": "active", "expires_at": expires, "receipt": receipt}
        return True, report_answer(answer)

    def _expiry(self, r: rules.ReportInput, *, repeat: bool) -> datetime:
        return rules.retention_until(
            r.confirmed_at,
            r.amount_minor,
            r.currency,
            repeat_across_platforms=repeat,
            policy=self.retention,
        )

    # -- bulk intake -----------------------------------------------------------

    async def file_bulk(
        self, member_id: str, reports: Sequence[rules.ReportInput], *, request_digest: str = ""
    ) -> dict[str, Any]:
        """All or nothing: one invalid report rejects the batch, naming every bad item."""
        if not 1 <= len(reports) <= MAX_BULK:
            raise InvalidInput(f"a bulk upload holds 1 to {MAX_BULK} reports", code="bulk.size")
        now = self.clock()
        invalid: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        prepared: list[Prepared] = []
        ids = new_report_ids(len(reports))
        for index, report in enumerate(reports):
            violations = rules.validate(report, now)
            if report.case_reference in seen:
                violations.append(
                    rules.Violation(
                        "report.duplicate_in_batch",
                        "case_reference",
                        f"also used by item {seen[report.case_reference]}",
                    )
                )
            seen.setdefault(report.case_reference, index)
            if violations:
                invalid.append({"index": index, "violations": [asdict(v) for v in violations]})
            elif not invalid:
                prepared.append(self._key(report, ids[index], index))
        if invalid:
            raise InvalidInput(
                f"{len(invalid)} of {len(reports)} reports are invalid; nothing was filed",
                code="bulk.invalid_items",
                extra={"invalid_items": invalid},
            )
        existing, fresh = await self._retrying(
            lambda conn: self._bulk_in(conn, member_id, prepared, now, request_digest)
        )
        created_ids = {p.report.case_reference: p.id for p in fresh}
        await self._changed(list({k for p in fresh for k in p.keys}))
        ids = [
            created_ids.get(p.report.case_reference) or existing[p.report.case_reference]["id"]
            for p in prepared
        ]
        return {
            "report_ids": ids,
            "created": len(created_ids),
            "already_filed": len(prepared) - len(created_ids),
        }

    async def _bulk_in(
        self,
        conn: Conn,
        member_id: str,
        prepared: list[Prepared],
        now: datetime,
        request_digest: str,
    ) -> tuple[dict[str, asyncpg.Record], list[Prepared]]:
        """One attempt: the reports already filed, and those this attempt filed."""
        existing = {
            row["case_reference"]: row
            for row in await conn.fetch(
                Q["reports_by_cases"], member_id, [p.report.case_reference for p in prepared]
            )
        }
        conflicts = [
            i
            for i, p in enumerate(prepared)
            if p.report.case_reference in existing
            and existing[p.report.case_reference]["request_hash"] != p.request_hash
        ]
        if conflicts:
            raise Conflict(
                f"{len(conflicts)} case references were already filed with different "
                "content; nothing was filed",
                code="report.case_reference_conflict",
                extra={"conflicting_items": conflicts[:1000]},
            )
        fresh = [p for p in prepared if p.report.case_reference not in existing]
        if fresh:
            await self._merge_bulk(conn, member_id, fresh, now, request_digest)
        return existing, fresh

    async def _merge_bulk(
        self,
        conn: Conn,
        member_id: str,
        fresh: list[Prepared],
        now: datetime,
        request_digest: str,
    ) -> None:
        """COPY the reports, add their facts to the aggregates, COPY the rest.

        Reports are copied in case-reference order, so two uploads that share
        case references wait on each other in one order. A case reference that
        a concurrent request filed since the check (a client retrying an
        upload still running, say) is a unique violation once that request
        commits: the attempt rolls back and the next one counts it as filed.
        """
        version = self.keyring.version
        expiry: dict[str, datetime] = {}
        rows: list[tuple[Any, ...]] = []
        added: dict[bytes, list[rules.Fact]] = {}
        kinds: dict[bytes, str] = {}
        for p in sorted(fresh, key=lambda p: p.report.case_reference):
            r = p.report
            rows.append(
                (
                    p.id, member_id, r.case_reference, p.request_hash, r.category,
                    r.amount_minor, r.currency, r.order_date, r.refund_date, r.confirmed_at,
                    r.buyer_notified_at, now, list(r.evidence_kinds), p.digest, list(p.kinds),
                    list(p.keys), version, "active", now,
                    expiry.setdefault(p.id, self._expiry(r, repeat=False)),
                )
            )  # fmt: skip
            fact = _fact(p, member_id)
            for key, kind in zip(p.keys, p.kinds, strict=True):
                added.setdefault(key, []).append(fact)
                kinds.setdefault(key, kind)
        try:
            await conn.copy_records_to_table("reports", records=rows, columns=_REPORT_COLUMNS)
        except asyncpg.UniqueViolationError:
            raise _Race from None
        # Repeat status is decided on the facts as they stood before this batch.
        before = await add_facts(conn, added, kinds)
        if before:
            repeats = [
                p
                for p in fresh
                if any(k in before and rules.is_repeat(member_id, before[k]) for k in p.keys)
            ]
            if repeats:
                expiry.update((p.id, self._expiry(p.report, repeat=True)) for p in repeats)
                await conn.execute(
                    Q["set_expiry"], [p.id for p in repeats], [expiry[p.id] for p in repeats]
                )
        ended = [
            (p.index, v)
            for p in fresh
            if (v := rules.retention_ended(expiry[p.id], now)) is not None
        ]
        if ended:  # rolls the upload back
            raise InvalidInput(
                f"{len(ended)} reports could not count for a single day; nothing was filed",
                code="bulk.invalid_items",
                extra={
                    "invalid_items": [{"index": i, "violations": [asdict(v)]} for i, v in ended]
                },
            )
        await conn.copy_records_to_table(
            "events",
            records=[
                (
                    now, "report.filed", member_id, p.id,
                    {"case_reference": p.report.case_reference, "category": p.report.category},
                )
                for p in fresh
            ],
            columns=["at", "type", "member_id", "report_id", "data"],
        )  # fmt: skip
        # One access-log entry per filed report, in this transaction (no receipts:
        # the bulk answer carries none; each entry still gets its proof once sequenced).
        entries: list[EncodedEntry] = []
        salts = secrets.token_bytes(16 * sum(len(p.keys) for p in fresh))
        used = 0
        for p in fresh:
            encoded = encode_access(
                AccessRecord(
                    at=now, actor=member_id, role="member", action="report.file",
                    request_digest=request_digest, subject_keys=p.keys, outcome="filed",
                    detail={"report_id": p.id, "category": p.report.category, "bulk": True},
                ),
                [salts[i : i + 16] for i in range(used, used + 16 * len(p.keys), 16)],
            )  # fmt: skip
            used += 16 * len(p.keys)
            entries.append(encoded)
        await copy_entries(conn, entries)

    # -- reading and retraction ----------------------------------------------------

    async def get(
        self,
        member_id: str,
        report_id: str,
        *,
        access_log: AccessLog | None = None,
        request_digest: str = "",
    ) -> dict[str, Any]:
        """One report, for its owner only: anyone else gets the same 404 as for no report.

        With ``access_log`` the read is logged (durably, before the answer).
        """
        async with translated():
            row = await self.pool.fetchrow(Q["get_report"], report_id, member_id)
        if row is None:
            raise NotFound(f"no report {report_id!r}", code="report.not_found")
        if access_log is not None:
            await access_log.append(
                AccessRecord(
                    at=self.clock(),
                    actor=member_id,
                    role="member",
                    action="report.read",
                    request_digest=request_digest,
                    subject_keys=list(row["subject_keys"]),
                    detail={"report_id": report_id},
                )
            )
        return {
            "report_id": row["id"],
            "case_reference": row["case_reference"],
            "category": row["category"],
            "amount": {"minor_units": row["amount_minor"], "currency": row["currency"]},
            "order_date": row["order_date"].isoformat(),
            "refund_date": row["refund_date"].isoformat(),
            "confirmed_at": iso(row["confirmed_at"]),
            "buyer_notified_at": iso(row["buyer_notified_at"]),
            "filed_at": iso(row["filed_at"]),
            "evidence_kinds": list(row["evidence_kinds"]),
            "identifier_kinds": list(row["identifier_kinds"]),
            "status": row["status"],
            "status_changed_at": iso(row["status_changed_at"]),
            "status_reason": row["status_reason"],
            "expires_at": iso(row["expires_at"]),
            "receipt": row["receipt"],
        }

    async def retract(
        self, member_id: str, report_id: str, reason: str, *, request_digest: str = ""
    ) -> dict[str, Any]:
        reason = rules.retraction_reason(reason)
        now = self.clock()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(Q["lock_report"], report_id)
            if row is None or row["member_id"] != member_id:
                raise NotFound(f"no report {report_id!r}", code="report.not_found")
            rules.check_retractable(row["status"])
            keys = list(row["subject_keys"])
            facts = await lock_subjects(conn, keys)
            await change_report_status(
                conn, report_id, facts, row["status"], "retracted", now, reason
            )
            await insert_event(
                conn, now, "report.retracted", member_id, report_id, None, {"reason": reason}
            )
            receipt = await self._log(
                conn,
                AccessRecord(
                    at=now,
                    actor=member_id,
                    role="member",
                    action="report.retract",
                    request_digest=request_digest,
                    subject_keys=keys,
                    outcome="retracted",
                    detail={"report_id": report_id},
                ),
            )
            if row["status"] == "disputed":
                # An open appeal ends with the retraction (imported here: the
                # appeals module imports this one).
                from refund_registry.services.appeals import close_for_retraction

                await close_for_retraction(conn, report_id, keys, now)
        await self._changed(keys)
        return {
            "report_id": report_id,
            "status": "retracted",
            "retracted_at": iso(now),
            "receipt": receipt,
        }

    # -- member feed -------------------------------------------------------------

    async def feed(self, member_id: str, after: str, limit: int) -> dict[str, Any]:
        txid, event_id = _parse_cursor(after)
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be 1 to 1000", code="events.limit")
        async with translated():
            rows = await self.pool.fetch(Q["member_feed"], member_id, txid, event_id, limit)
        events = [
            {
                "cursor": f"{row['txid']}-{row['id']}",
                "type": row["type"],
                "at": iso(row["at"]),
                **({"report_id": row["report_id"]} if row["report_id"] else {}),
                **({"appeal_id": row["appeal_id"]} if row["appeal_id"] else {}),
                **row["data"],
            }
            for row in rows
        ]
        return {"events": events, "next_cursor": events[-1]["cursor"] if events else after}

    # -- retention -----------------------------------------------------------------

    async def expire(self, as_of: datetime, *, batch: int = 500) -> int:
        """Expire every report whose retention ended by ``as_of``; return how many.

        Safe to run in several processes at once: each batch claims its rows
        with ``SKIP LOCKED``.
        """
        total = 0
        while True:
            async with translated(), self.pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(Q["expire_due"], as_of, batch)
                if not rows:
                    break
                ids = [r["id"] for r in rows]
                keys = sorted({k for r in rows for k in r["subject_keys"]})
                facts = await lock_subjects(conn, keys)
                gone = set(ids)
                await conn.execute(Q["expire_reports"], ids, as_of)
                await conn.execute(Q["erase_appeal_subjects"], ids)
                await write_aggregates(
                    conn, {k: [x for x in f if x["id"] not in gone] for k, f in facts.items()}
                )
                await conn.execute(Q["drop_empty_aggregates"], keys)
                await insert_events(
                    conn,
                    [
                        (as_of, "report.expired", r["member_id"], r["id"], None, {})
                        for r in rows
                        if r["status"] in rules.COUNTING
                    ],
                )
            await self._changed(keys)
            total += len(rows)
        return total


_REPORT_COLUMNS = [
    "id", "member_id", "case_reference", "request_hash", "category", "amount_minor",
    "currency", "order_date", "refund_date", "confirmed_at", "buyer_notified_at", "filed_at",
    "evidence_kinds", "evidence_digest", "identifier_kinds", "subject_keys", "key_version",
    "status", "status_changed_at", "expires_at",
]  # fmt: skip


def _parse_cursor(after: str) -> tuple[int, int]:
    if not after:
        return 0, 0
    txid, sep, event_id = after.partition("-")
    if not sep or not _DIGITS.fullmatch(txid) or not _DIGITS.fullmatch(event_id):
        raise InvalidInput("'after' must be a cursor from an earlier page", code="events.cursor")
    return int(txid), int(event_id)


def _fact(p: Prepared, member_id: str) -> rules.Fact:
    r = p.report
    return rules.make_fact(p.id, member_id, r.category, r.amount_minor, r.currency, r.confirmed_at)


async def add_facts(
    conn: Conn, added: dict[bytes, list[rules.Fact]], kinds: dict[bytes, str]
) -> dict[bytes, list[rules.Fact]]:
    """Add facts to subjects' aggregates; the facts of those that already had a row.

    Two phases, each in key order, which every writer follows: rows of new
    subjects are created holding their final values (one write each), then
    the existing rows are locked, merged and rewritten. In the second phase a
    writer waits only on holders of committed rows, who lock them in key
    order and never wait on a writer still in its first phase; in the first
    phase a writer may wait on anyone holding the key (creating or locking
    it), in key order. So no cycle of waits can form (docs/architecture.md).
    A row that expiry deleted between the two phases would have to be
    created while holding second-phase locks, which breaks that order: the
    transaction rolls back instead (``_Race``) and runs again.
    """
    pending = sorted(added)
    create = True
    if len(pending) >= _COPY_FROM:
        pending, create = await _copy_new_aggregates(conn, pending, added, kinds)
    made = await _create_aggregates(conn, pending, added, kinds) if create else set()
    rest = [k for k in pending if k not in made]
    locked = await lock_subjects(conn, rest) if rest else {}
    if len(locked) != len(rest):
        raise _Race
    await write_aggregates(conn, {k: [*old, *added[k]] for k, old in locked.items()})
    return locked


async def _create_aggregates(
    conn: Conn, keys: list[bytes], added: dict[bytes, list[rules.Fact]], kinds: dict[bytes, str]
) -> set[bytes]:
    """Phase one, one statement: the keys whose rows this call created."""
    *columns, facts = _aggregate_columns(keys, added, kinds)
    # As JSON text: a list of lists would read as a two-dimensional array.
    as_text = [msgspec.json.encode(f).decode() for f in facts]
    created = await conn.fetch(Q["create_aggregates"], *columns, as_text)
    return {bytes(row["subject_key"]) for row in created}


_COPY_FROM = 200  # subjects; below this a COPY costs more than it saves
_AGGREGATE_COLUMNS = [
    "subject_key", "kind", "active_reports", "disputed", "platforms", "latest_confirmed_at",
    "facts", "version",
]  # fmt: skip


async def _copy_new_aggregates(
    conn: Conn, keys: list[bytes], added: dict[bytes, list[rules.Fact]], kinds: dict[bytes, str]
) -> tuple[list[bytes], bool]:
    """Phase one for many subjects: COPY the rows of those that have none.

    COPY is ~2.5 times as fast as an INSERT ... ON CONFLICT, but it cannot
    skip a row: if a concurrent writer created one of these subjects since the
    probe, the savepoint rolls back and every key goes the slower way.
    Returns the keys still to handle, and whether they may need creating
    (False: the probe found every one of them).
    """
    rows = await conn.fetch(Q["existing_aggregates"], keys)
    existing = {bytes(row["subject_key"]) for row in rows}
    new = [k for k in keys if k not in existing]
    if not new:
        return keys, False
    try:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "subject_aggregates",
                records=(
                    (*row, 1) for row in zip(*_aggregate_columns(new, added, kinds), strict=True)
                ),
                columns=_AGGREGATE_COLUMNS,
            )
    except asyncpg.UniqueViolationError:
        return keys, True
    return [k for k in keys if k in existing], False


def _aggregate_columns(
    keys: list[bytes], added: dict[bytes, list[rules.Fact]], kinds: dict[bytes, str]
) -> tuple[list[Any], ...]:
    summaries = [rules.summarise(added[k]) for k in keys]
    return (
        keys,
        [kinds[k] for k in keys],
        [s.active_reports for s in summaries],
        [s.disputed for s in summaries],
        [s.platforms for s in summaries],
        [s.latest_confirmed_at for s in summaries],
        [added[k] for k in keys],
    )


Event = tuple[datetime, str, str | None, str | None, str | None, dict[str, Any]]


async def insert_event(
    conn: Conn,
    at: datetime,
    kind: str,
    member_id: str | None,
    report_id: str | None,
    appeal_id: str | None,
    data: dict[str, Any],
) -> None:
    """Append one event to the ledger, in the caller's transaction."""
    await conn.execute(Q["insert_event"], at, kind, member_id, report_id, appeal_id, data)


async def insert_events(conn: Conn, events: Sequence[Event]) -> None:
    """Append events ``(at, type, member, report, appeal, data)``, in order."""
    if events:
        await conn.executemany(Q["insert_event"], events)


async def lock_subjects(conn: Conn, keys: Sequence[bytes]) -> dict[bytes, list[rules.Fact]]:
    """Lock existing aggregate rows (key order); return their facts."""
    rows = await conn.fetch(Q["lock_aggregates"], list(keys))
    return {bytes(row["subject_key"]): list(row["facts"]) for row in rows}


async def change_report_status(
    conn: Conn,
    report_id: str,
    facts: dict[bytes, list[rules.Fact]],
    old: str,
    new: str,
    now: datetime,
    reason: str,
) -> None:
    """Move a report from ``old`` to ``new`` and relabel its facts in its subjects'
    aggregates; the caller holds the report row and these subjects' rows."""
    changed = await conn.fetchval(Q["set_report_status"], report_id, old, new, now, reason)
    if changed is None:  # pragma: no cover - the report row lock makes this unreachable
        raise Conflict("the report changed concurrently; retry", code="report.changed")
    await write_aggregates(conn, {k: rules.set_status(f, report_id, new) for k, f in facts.items()})


async def write_aggregates(conn: Conn, facts_by_key: dict[bytes, list[rules.Fact]]) -> None:
    """Store each subject's facts and the counts derived from them (locks held)."""
    if not facts_by_key:
        return
    keys = list(facts_by_key)
    summaries = [rules.summarise(facts_by_key[k]) for k in keys]
    await conn.execute(
        Q["write_aggregates"],
        keys,
        [s.active_reports for s in summaries],
        [s.disputed for s in summaries],
        [s.platforms for s in summaries],
        [s.latest_confirmed_at for s in summaries],
        [msgspec.json.encode(facts_by_key[k]).decode() for k in keys],
    )
