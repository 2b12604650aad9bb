"""A filed report's life: read by its member, retracted, announced on the
member's feed, expired when its retention ends.

Retraction and expiry lock the report row first, then its subjects'
aggregate rows in key order (``services.locking``), and change both in one
transaction with the ledger event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import feed as feed_rules
from refund_registry.domain import reports as rules
from refund_registry.domain.access import AccessRecord
from refund_registry.domain.wire import iso
from refund_registry.errors import NotFound
from refund_registry.i18n import gettext
from refund_registry.services.appeal_closing import close_for_retraction
from refund_registry.services.locking import (
    SubjectsChanged,
    change_report_status,
    lock_subjects,
    log_change,
    notify,
)
from refund_registry.storage import aggregates, events
from refund_registry.storage import appeals as appeal_rows
from refund_registry.storage import reports as report_rows
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.db import translated


def report_view(row: report_rows.StoredReport) -> dict[str, Any]:
    return {
        "report_id": row.id,
        "case_reference": row.case_reference,
        "category": row.category,
        "amount": {"minor_units": row.amount_minor, "currency": row.currency},
        "order_date": row.order_date.isoformat(),
        "refund_date": row.refund_date.isoformat(),
        "confirmed_at": iso(row.confirmed_at),
        "buyer_notified_at": iso(row.buyer_notified_at),
        "filed_at": iso(row.filed_at),
        "evidence_kinds": list(row.evidence_kinds),
        "identifier_kinds": list(row.identifier_kinds),
        "status": row.status,
        "status_changed_at": iso(row.status_changed_at),
        "status_reason": row.status_reason,
        "expires_at": iso(row.expires_at),
        "receipt": row.receipt,
    }


class ReportLifecycle:
    """The ledger's read, retract, feed and expiry use cases (composed into
    ``services.ledger.Ledger``)."""

    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    listeners: list[SubjectsChanged]
    log_key: ed25519.Ed25519PrivateKey | None

    async def get(
        self,
        member_id: str,
        report_id: str,
        *,
        access_log: AccessLog | None = None,
        request_digest: str = "",
        jti: str | None = None,
    ) -> dict[str, Any]:
        """One report, for its owner only: anyone else gets the same 404 as for no report.

        With ``access_log`` the read is logged (durably, before the answer).
        """
        async with translated(), self.pool.acquire() as conn:
            row = await report_rows.get_report(conn, report_id, member_id)
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
                    issuer=member_id if jti else None,
                    jti=jti,
                    subject_keys=list(row.subject_keys),
                    detail={"report_id": report_id},
                )
            )
        return report_view(row)

    async def retract(
        self,
        member_id: str,
        report_id: str,
        reason: str,
        *,
        request_digest: str = "",
        jti: str | None = None,
    ) -> dict[str, Any]:
        """The member takes a report off the record; an open appeal on it ends with it."""
        reason = rules.retraction_reason(reason)
        now = self.clock()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            row = await report_rows.lock_report(conn, report_id)
            if row is None or row.member_id != member_id:
                raise NotFound(f"no report {report_id!r}", code="report.not_found")
            rules.check_retractable(row.status)
            keys = list(row.subject_keys)
            facts = await lock_subjects(conn, keys)
            await change_report_status(conn, report_id, facts, row.status, "retracted", now, reason)
            await events.append(
                conn,
                events.Event(
                    now, "report.retracted", member_id, report_id, None, {"reason": reason}
                ),
            )
            receipt = await log_change(
                conn,
                AccessRecord(
                    at=now,
                    actor=member_id,
                    role="member",
                    action="report.retract",
                    request_digest=request_digest,
                    issuer=member_id if jti else None,
                    jti=jti,
                    subject_keys=keys,
                    outcome="retracted",
                    detail={"report_id": report_id},
                ),
                self.log_key,
            )
            if row.status == "disputed":
                await close_for_retraction(conn, report_id, keys, now)
        await notify(self.listeners, keys)
        return {
            "report_id": report_id,
            "status": "retracted",
            "retracted_at": iso(now),
            "receipt": receipt,
        }

    async def feed(
        self, member_id: str, after: str, limit: int, *, language: str = "zh-CN"
    ) -> dict[str, Any]:
        """A page of the member's events after cursor ``after`` (at-least-once, stable),
        each with its ``description`` in ``language`` (a supported tag)."""
        txid, event_id = feed_rules.parse_cursor(after)
        feed_rules.check_limit(limit)
        async with translated(), self.pool.acquire() as conn:
            rows = await events.member_feed(conn, member_id, txid, event_id, limit)
        page = [
            {
                "cursor": feed_rules.cursor(row.txid, row.id),
                "type": row.type,
                "at": iso(row.at),
                **({"report_id": row.report_id} if row.report_id else {}),
                **({"appeal_id": row.appeal_id} if row.appeal_id else {}),
                **row.data,
            }
            for row in rows
        ]
        text = partial(gettext, language)
        for item in page:
            item["description"] = feed_rules.describe(item, text)
        return {"events": page, "next_cursor": page[-1]["cursor"] if page else after}

    async def expire(self, as_of: datetime, *, batch: int = 500) -> int:
        """Expire every report whose retention ended by ``as_of``; return how many.

        Safe to run in several processes at once: each batch claims its rows
        with ``SKIP LOCKED``.
        """
        total = 0
        while True:
            async with translated(), self.pool.acquire() as conn, conn.transaction():
                rows = await report_rows.claim_expired(conn, as_of, batch)
                if not rows:
                    break
                ids = [r.id for r in rows]
                keys = sorted({k for r in rows for k in r.subject_keys})
                facts = await lock_subjects(conn, keys)
                gone = set(ids)
                await report_rows.expire_reports(conn, ids, as_of)
                await appeal_rows.erase_subjects(conn, ids)
                await aggregates.write(
                    conn, {k: [x for x in f if x["id"] not in gone] for k, f in facts.items()}
                )
                await aggregates.drop_empty(conn, keys)
                await events.append_many(
                    conn,
                    [
                        events.Event(as_of, "report.expired", r.member_id, r.id, None, {})
                        for r in rows
                        if r.status in rules.COUNTING
                    ],
                )
            await notify(self.listeners, keys)
            total += len(rows)
        return total
