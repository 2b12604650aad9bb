"""Filing reports: one at a time, or a bulk upload of up to ten thousand.

Each filing is one transaction: validate and key (``domain.intake``), insert
the report row, add its facts to the subjects' aggregates in the lock order
of ``services.locking``, log the access and append the ledger event. A
filing that meets a concurrent change it cannot merge (a case reference
filed meanwhile, a subject's row deleted between its two phases) rolls back
and runs again. A retry of a filing returns the first answer.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import intake
from refund_registry.domain import reports as rules
from refund_registry.domain.access import AccessRecord, EncodedEntry
from refund_registry.domain.access import encode as encode_access
from refund_registry.domain.intake import Prepared
from refund_registry.domain.keyring import Keyring
from refund_registry.domain.wire import iso
from refund_registry.errors import Conflict
from refund_registry.services.locking import (
    Race,
    SubjectsChanged,
    add_facts,
    log_change,
    notify,
    retrying,
)
from refund_registry.storage import events
from refund_registry.storage import reports as report_rows
from refund_registry.storage.accesslog import copy_entries
from refund_registry.storage.conn import Conn

Signed = tuple[str, str | None]
"""The signed request behind a filing: its digest and its ``jti`` (``None``: unsigned)."""


def new_report_ids(count: int) -> list[str]:
    """``count`` fresh, time-ordered report ids (see ``domain.intake.new_report_ids``)."""
    return intake.new_report_ids(
        time.time_ns() // 1_000_000, secrets.token_bytes(intake.ID_ENTROPY_BYTES * count)
    )


def report_answer(
    report_id: str, status: str, expires_at: datetime, receipt: dict[str, str] | None
) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "status": status,
        "expires_at": iso(expires_at),
        "receipt": receipt,
    }


class Intake:
    """The ledger's filing use cases (composed into ``services.ledger.Ledger``)."""

    pool: asyncpg.Pool
    keyring: Keyring
    retention: rules.RetentionPolicy
    clock: Callable[[], datetime]
    listeners: list[SubjectsChanged]
    log_key: ed25519.Ed25519PrivateKey | None

    def prepare(self, report: rules.ReportInput, now: datetime) -> Prepared:
        """Validate one report (raising on the first broken rules) and key it."""
        return intake.prepare_one(self.keyring, report, new_report_ids(1)[0], now)

    def _expiry(self, r: rules.ReportInput, *, repeat: bool) -> datetime:
        return intake.expiry_of(r, self.retention, repeat=repeat)

    # -- single intake ---------------------------------------------------------

    async def file(
        self,
        member_id: str,
        report: rules.ReportInput,
        *,
        request_digest: str = "",
        jti: str | None = None,
    ) -> tuple[bool, dict[str, Any]]:
        """File one report; ``(created, answer)``. A retry returns the first answer.

        The filing is logged in the access log in the same transaction, and its
        receipt is kept with the report so that a retry returns it too.
        """
        now = self.clock()
        p = self.prepare(report, now)
        created, answer = await retrying(
            self.pool, lambda conn: self._file_in(conn, member_id, p, now, (request_digest, jti))
        )
        if created:
            await notify(self.listeners, p.keys)
        return created, answer

    async def _file_in(
        self, conn: Conn, member_id: str, p: Prepared, now: datetime, signed: Signed
    ) -> tuple[bool, dict[str, Any]]:
        r = p.report
        expires = self._expiry(r, repeat=False)
        # The report row first (a concurrent retry waits here, then finds it),
        # then the subjects' aggregates: the order every writer follows.
        inserted = await report_rows.insert_report(
            conn, p, member_id=member_id, filed_at=now,
            key_version=self.keyring.version, expires_at=expires,
        )  # fmt: skip
        if not inserted:
            existing = await report_rows.report_by_case(conn, member_id, r.case_reference)
            assert existing is not None
            if existing.request_hash != p.request_hash:
                raise Conflict(
                    f"case reference {r.case_reference!r} was already filed with different content",
                    code="report.case_reference_conflict",
                    extra={"report_id": existing.id},
                )
            return False, report_answer(
                existing.id, existing.status, existing.expires_at, existing.receipt
            )
        fact = intake.fact_of(p, member_id)
        before = await add_facts(
            conn, {k: [fact] for k in p.keys}, dict(zip(p.keys, p.kinds, strict=True))
        )
        if any(rules.is_repeat(member_id, f) for f in before.values()):
            expires = self._expiry(r, repeat=True)
            await report_rows.set_expiry(conn, [p.id], [expires])
        ended = rules.retention_ended(expires, now)
        if ended is not None:  # rolls the transaction back
            raise intake.refusal([ended])
        receipt = await log_change(
            conn,
            AccessRecord(
                at=now,
                actor=member_id,
                role="member",
                action="report.file",
                request_digest=signed[0],
                issuer=member_id if signed[1] else None,
                jti=signed[1],
                subject_keys=p.keys,
                outcome="filed",
                detail={"report_id": p.id, "category": r.category},
            ),
            self.log_key,
        )
        if receipt is not None:
            await report_rows.set_receipt(conn, p.id, receipt)
        await events.append(
            conn,
            events.Event(
                now, "report.filed", member_id, p.id, None,
                {"case_reference": r.case_reference, "category": r.category},
            ),
        )  # fmt: skip
        return True, report_answer(p.id, "active", expires, receipt)

    # -- bulk intake -----------------------------------------------------------

    async def file_bulk(
        self,
        member_id: str,
        reports: Sequence[rules.ReportInput],
        *,
        request_digest: str = "",
        jti: str | None = None,
    ) -> dict[str, Any]:
        """All or nothing: one invalid report rejects the batch, naming every bad item."""
        intake.check_bulk_size(len(reports))
        now = self.clock()
        prepared = intake.prepare_bulk(self.keyring, reports, new_report_ids(len(reports)), now)
        signed = (request_digest, jti)
        existing, fresh = await retrying(
            self.pool, lambda conn: self._bulk_in(conn, member_id, prepared, now, signed)
        )
        created_ids = {p.report.case_reference: p.id for p in fresh}
        await notify(self.listeners, list({k for p in fresh for k in p.keys}))
        ids = [
            created_ids.get(p.report.case_reference) or existing[p.report.case_reference].id
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
        signed: Signed,
    ) -> tuple[dict[str, report_rows.FiledCase], list[Prepared]]:
        """One attempt: the reports already filed, and those this attempt filed."""
        existing = await report_rows.reports_by_cases(
            conn, member_id, [p.report.case_reference for p in prepared]
        )
        conflicts = [
            i
            for i, p in enumerate(prepared)
            if p.report.case_reference in existing
            and existing[p.report.case_reference].request_hash != p.request_hash
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
            await self._merge_bulk(conn, member_id, fresh, now, signed)
        return existing, fresh

    async def _merge_bulk(
        self,
        conn: Conn,
        member_id: str,
        fresh: list[Prepared],
        now: datetime,
        signed: Signed,
    ) -> None:
        """COPY the reports, add their facts to the aggregates, COPY the rest.

        Reports are copied in case-reference order, so two uploads that share
        case references wait on each other in one order. A case reference that
        a concurrent request filed since the check (a client retrying an
        upload still running, say) is a unique violation once that request
        commits: the attempt rolls back and the next one counts it as filed.
        """
        in_order = sorted(fresh, key=_case_reference)
        first = intake.first_expiries([p.report for p in in_order], self.retention)
        expiry = {p.id: e for p, e in zip(in_order, first, strict=True)}
        added: dict[bytes, list[rules.Fact]] = {}
        kinds: dict[bytes, str] = {}
        for p in in_order:
            fact = intake.fact_of(p, member_id)
            for key, kind in zip(p.keys, p.kinds, strict=True):
                if key in added:
                    added[key].append(fact)
                else:
                    added[key] = [fact]
                    kinds[key] = kind
        copied = await report_rows.copy_reports(
            conn, in_order, member_id=member_id, filed_at=now,
            key_version=self.keyring.version, expires_at=expiry,
        )  # fmt: skip
        if not copied:
            raise Race
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
                await report_rows.set_expiry(
                    conn, [p.id for p in repeats], [expiry[p.id] for p in repeats]
                )
        ended = [
            (p.index, v)
            for p in fresh
            if expiry[p.id] <= now and (v := rules.retention_ended(expiry[p.id], now)) is not None
        ]
        if ended:  # rolls the upload back
            raise intake.bulk_retention_refusal(ended)
        await events.copy_filed(
            conn,
            now,
            member_id,
            [
                (p.id, {"case_reference": p.report.case_reference, "category": p.report.category})
                for p in fresh
            ],
        )
        # One access-log entry per filed report, in this transaction (no receipts:
        # the bulk answer carries none; each entry still gets its proof once sequenced).
        salts = secrets.token_bytes(16 * sum(len(p.keys) for p in fresh))
        issuer = member_id if signed[1] else None
        entries: list[EncodedEntry] = []
        used = 0
        for p in fresh:
            n = len(p.keys)
            record = AccessRecord(
                at=now, actor=member_id, role="member", action="report.file",
                request_digest=signed[0], issuer=issuer, jti=signed[1], subject_keys=p.keys,
                outcome="filed",
                detail={"report_id": p.id, "category": p.report.category, "bulk": True},
            )  # fmt: skip
            entries.append(
                encode_access(record, [salts[i : i + 16] for i in range(used, used + 16 * n, 16)])
            )
            used += 16 * n
        await copy_entries(conn, entries)


def _case_reference(p: Prepared) -> str:
    return p.report.case_reference
