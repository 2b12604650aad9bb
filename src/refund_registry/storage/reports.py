"""Report rows: filing, reading, status changes and retention.

Every function runs in the caller's connection (and transaction, where it
holds locks); driver errors become domain errors here, through
``storage.db.translating``. A COPY that meets a case reference filed
meanwhile is not an error but an answer (``False``): the caller rolls back
and runs again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from refund_registry.domain.intake import Prepared
from refund_registry.storage import binary_copy as bc
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class FiledReport:
    """A report already filed under a case reference (the answer a retry gets)."""

    id: str
    request_hash: bytes
    status: str
    expires_at: datetime
    receipt: dict[str, str] | None


@dataclass(frozen=True, slots=True)
class FiledCase:
    case_reference: str
    id: str
    request_hash: bytes


@dataclass(frozen=True, slots=True)
class LockedReport:
    """A report row held ``FOR UPDATE`` by the caller's transaction."""

    id: str
    member_id: str
    status: str
    subject_keys: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report as its member may read it."""

    id: str
    member_id: str
    case_reference: str
    category: str
    amount_minor: int
    currency: str
    order_date: date
    refund_date: date
    confirmed_at: datetime
    buyer_notified_at: datetime
    filed_at: datetime
    evidence_kinds: list[str]
    evidence_digest: bytes
    identifier_kinds: list[str]
    status: str
    status_changed_at: datetime
    status_reason: str | None
    expires_at: datetime
    receipt: dict[str, str] | None
    subject_keys: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class SubjectReport:
    """A report on a buyer's record, and the identifier kinds through which it matched."""

    id: str
    category: str
    amount_minor: int
    currency: str
    order_date: date
    refund_date: date
    confirmed_at: datetime
    filed_at: datetime
    status: str
    status_changed_at: datetime
    expires_at: datetime
    member_name: str | None
    matched_kinds: list[str]


def _keys(value: Sequence[Any]) -> tuple[bytes, ...]:
    return tuple(bytes(k) for k in value)


def _locked(row: asyncpg.Record) -> LockedReport:
    return LockedReport(row["id"], row["member_id"], row["status"], _keys(row["subject_keys"]))


@translating
async def insert_report(
    conn: Conn,
    p: Prepared,
    *,
    member_id: str,
    filed_at: datetime,
    key_version: int,
    expires_at: datetime,
) -> bool:
    """Insert a report unless its member filed the case reference already (False)."""
    r = p.report
    inserted = await conn.fetchval(
        Q["insert_report"], p.id, member_id, r.case_reference, p.request_hash, r.category,
        r.amount_minor, r.currency, r.order_date, r.refund_date, r.confirmed_at,
        r.buyer_notified_at, filed_at, list(r.evidence_kinds), p.digest, list(p.kinds),
        list(p.keys), key_version, expires_at,
    )  # fmt: skip
    return inserted is not None


@translating
async def report_by_case(conn: Conn, member_id: str, case_reference: str) -> FiledReport | None:
    row = await conn.fetchrow(Q["report_by_case"], member_id, case_reference)
    return FiledReport(**row) if row is not None else None


@translating
async def reports_by_cases(
    conn: Conn, member_id: str, case_references: list[str]
) -> dict[str, FiledCase]:
    """The member's reports filed under any of these case references, by case reference."""
    rows = await conn.fetch(Q["reports_by_cases"], member_id, case_references)
    return {row["case_reference"]: FiledCase(**row) for row in rows}


_REPORT_COLUMNS = [
    "id", "member_id", "case_reference", "request_hash", "category", "amount_minor",
    "currency", "order_date", "refund_date", "confirmed_at", "buyer_notified_at", "filed_at",
    "evidence_kinds", "evidence_digest", "identifier_kinds", "subject_keys", "key_version",
    "status", "status_changed_at", "expires_at",
]  # fmt: skip


@translating
async def copy_reports(
    conn: Conn,
    reports: Sequence[Prepared],
    *,
    member_id: str,
    filed_at: datetime,
    key_version: int,
    expires_at: Mapping[str, datetime],
) -> bool:
    """COPY new ``active`` reports, in the order given (``expires_at`` by report id).

    False if one of their case references was filed by a concurrent request
    that committed meanwhile; the transaction is then aborted and must roll back.
    """
    data = _report_rows(reports, member_id, filed_at, key_version, expires_at)
    try:
        await bc.copy_binary(conn, "reports", data=data, columns=_REPORT_COLUMNS)
    except asyncpg.UniqueViolationError:
        return False
    return True


def _report_rows(
    reports: Sequence[Prepared],
    member_id: str,
    filed_at: datetime,
    key_version: int,
    expires_at: Mapping[str, datetime],
) -> bytes:
    """The COPY payload of ``_REPORT_COLUMNS`` rows (``storage.binary_copy``)."""
    start = bc.fields(len(_REPORT_COLUMNS))
    member, filed, version = bc.text(member_id), bc.timestamptz(filed_at), bc.int2(key_version)
    active = bc.text("active")
    texts = bc.Memo(bc.text)
    days = bc.Memo(bc.day)
    lists = bc.Memo(bc.text_array)
    text, blob, int8, ts, keys = bc.text, bc.blob, bc.int8, bc.timestamptz, bc.array
    rows = []
    for p in reports:
        r = p.report
        rows.append(
            b"".join([
                start, text(p.id), member, text(r.case_reference), blob(p.request_hash),
                texts[r.category], int8(r.amount_minor), texts[r.currency], days[r.order_date],
                days[r.refund_date], ts(r.confirmed_at), ts(r.buyer_notified_at), filed,
                lists[r.evidence_kinds], blob(p.digest), lists[p.kinds],
                keys(bc.BYTEA_OID, p.keys), version, active, filed, ts(expires_at[p.id]),
            ])
        )  # fmt: skip
    return bc.payload(rows)


@translating
async def set_receipt(conn: Conn, report_id: str, receipt: dict[str, str]) -> None:
    await conn.execute(Q["set_receipt"], report_id, receipt)


@translating
async def set_expiry(conn: Conn, report_ids: list[str], expires_at: list[datetime]) -> None:
    """Set each report's expiry (``expires_at[i]`` for ``report_ids[i]``), in one statement."""
    await conn.execute(Q["set_expiry"], report_ids, expires_at)


@translating
async def get_report(conn: Conn, report_id: str, member_id: str) -> StoredReport | None:
    """The report if ``member_id`` filed it; None for anyone else, as for no report."""
    row = await conn.fetchrow(Q["get_report"], report_id, member_id)
    if row is None:
        return None
    return StoredReport(**{**row, "subject_keys": _keys(row["subject_keys"])})


@translating
async def lock_report(conn: Conn, report_id: str) -> LockedReport | None:
    """Lock the report row (the first lock of every writer); None if there is none."""
    row = await conn.fetchrow(Q["lock_report"], report_id)
    return _locked(row) if row is not None else None


@translating
async def set_report_status(
    conn: Conn, report_id: str, old: str, new: str, at: datetime, reason: str
) -> bool:
    """Compare-and-set the status: False if the report was no longer ``old``."""
    changed = await conn.fetchval(Q["set_report_status"], report_id, old, new, at, reason)
    return changed is not None


@translating
async def claim_expired(conn: Conn, as_of: datetime, limit: int) -> list[LockedReport]:
    """Lock up to ``limit`` reports whose retention ended by ``as_of`` and that still
    hold subject keys; rows other workers hold are skipped."""
    return [_locked(row) for row in await conn.fetch(Q["expire_due"], as_of, limit)]


@translating
async def expire_reports(conn: Conn, report_ids: list[str], as_of: datetime) -> None:
    """Erase the subject keys of these (locked) reports; counting ones become ``expired``."""
    await conn.execute(Q["expire_reports"], report_ids, as_of)


@translating
async def subject_reports(conn: Conn, keys: list[bytes]) -> list[SubjectReport]:
    """Every report still holding one of these subject keys, newest confirmation first."""
    return [SubjectReport(**row) for row in await conn.fetch(Q["subject_reports"], keys)]
