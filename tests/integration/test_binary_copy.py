"""Rows written in binary COPY format by the repositories are the rows the driver
would have written from the same values: each table's rows are copied both
ways into two scratch copies of it and compared column by column, as text."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from refund_registry.domain import access
from refund_registry.domain import reports as rules
from refund_registry.domain.intake import Prepared
from refund_registry.runtime import Runtime
from refund_registry.storage import aggregates, binary_copy
from refund_registry.storage import reports as report_rows
from refund_registry.storage.accesslog import _LOG_COLUMNS, _SUBJECT_COLUMNS, copy_entries

EAST = timezone(timedelta(hours=8))
WEST = timezone(-timedelta(hours=5, minutes=30))


async def _as_text(conn: Any, table: str, columns: list[str], order: str) -> list[str]:
    listed = ", ".join(columns)
    rows = await conn.fetch(f"SELECT ROW({listed})::text AS r FROM {table} ORDER BY {order}")
    return [r["r"] for r in rows]


async def _driver_rows(
    conn: Any, like: str, columns: list[str], records: list[tuple[Any, ...]], order: str
) -> list[str]:
    """The rows the driver writes from ``records`` into a scratch copy of ``like``, as text."""
    await conn.execute(
        f"CREATE TEMP TABLE by_driver (LIKE {like} INCLUDING DEFAULTS INCLUDING IDENTITY)"
    )
    await conn.copy_records_to_table("by_driver", records=records, columns=columns)
    rows = await _as_text(conn, "by_driver", columns, order)
    await conn.execute("DROP TABLE by_driver")
    assert len(rows) == len(records)
    return rows


async def _same_rows(
    conn: Any, table: str, columns: list[str], records: list[tuple[Any, ...]], data: bytes
) -> None:
    want = await _driver_rows(conn, table, columns, records, columns[0])
    await conn.execute(
        f"CREATE TEMP TABLE by_us (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)"
    )
    await binary_copy.copy_binary(conn, "by_us", data=data, columns=columns)
    assert await _as_text(conn, "by_us", columns, columns[0]) == want
    await conn.execute("DROP TABLE by_us")


def _report(i: int, **changes: Any) -> Prepared:
    report = rules.ReportInput(
        case_reference=f"case-{i}-é😀",
        identifiers=(),
        category=["other", "chargeback_fraud"][i % 2],
        amount_minor=[1, 25_900, rules.MAX_AMOUNT_MINOR][i % 3],
        currency=["CNY", "USD"][i % 2],
        order_date=date(2000, 1, 1) + timedelta(days=97 * i),
        refund_date=date(2026, 2, 28) if i % 4 else date.max,
        confirmed_at=datetime(2026, 3, 1, 23, 59, 59, 999_999 - i, tzinfo=[UTC, EAST, WEST][i % 3]),
        buyer_notified_at=datetime(2001, 1, 1, tzinfo=EAST) + timedelta(seconds=i),
        evidence_kinds=("photo_forensics", "carrier_record")[: 1 + i % 2],
        evidence_digest="",
        standard_of_proof={},
    )
    keys = tuple(secrets.token_bytes(32) for _ in range(1 + i % 3))
    return Prepared(
        id=f"rpt_{i:012x}{secrets.token_hex(8)}",
        report=report,
        request_hash=hashlib.sha256(bytes([i])).digest(),
        keys=keys,
        kinds=("phone", "email", "device")[: len(keys)],
        digest=secrets.token_bytes(32),
        index=i,
        **changes,
    )


async def test_report_rows(runtime: Runtime) -> None:
    reports = [_report(i) for i in range(12)]
    filed = datetime(2026, 3, 2, 1, 2, 3, 456_789, tzinfo=UTC)
    expires = {
        p.id: p.report.confirmed_at + timedelta(days=365 * (1 + p.index % 5)) for p in reports
    }
    # What the repository handed the driver before it wrote the format itself.
    records = [
        (
            p.id, "mem_a", p.report.case_reference, p.request_hash, p.report.category,
            p.report.amount_minor, p.report.currency, p.report.order_date,
            p.report.refund_date, p.report.confirmed_at, p.report.buyer_notified_at, filed,
            list(p.report.evidence_kinds), p.digest, list(p.kinds), list(p.keys), 1,
            "active", filed, expires[p.id],
        )
        for p in reports
    ]  # fmt: skip
    data = report_rows._report_rows(reports, "mem_a", filed, 1, expires)
    async with runtime.pool.acquire() as conn:
        await _same_rows(conn, "reports", report_rows._REPORT_COLUMNS, records, data)


async def test_aggregate_rows(runtime: Runtime) -> None:
    def fact(i: int, status: str = "active") -> rules.Fact:
        at = datetime(2026, 1, 1, 12, tzinfo=[UTC, EAST, WEST][i % 3]) + timedelta(hours=i)
        return rules.make_fact(f"rpt_{i}", f"mem_{i % 2}", "other", 100 + i, "CNY", at, status)

    shared = fact(1)
    keys = sorted(secrets.token_bytes(32) for _ in range(6))
    facts = {
        keys[0]: [shared],
        keys[1]: [shared],
        keys[2]: [fact(2, "disputed")],
        keys[3]: [fact(3), fact(4, "disputed"), fact(5)],
        keys[4]: [fact(6), fact(7)],
        keys[5]: [fact(8)],
    }
    kinds = dict(zip(keys, ["phone", "email", "phone", "device", "email", "phone"], strict=True))
    records = [(*row, 1) for row in zip(*aggregates._new_rows(keys, facts, kinds), strict=True)]
    data = aggregates._copy_rows(keys, facts, kinds)
    async with runtime.pool.acquire() as conn:
        await _same_rows(conn, "subject_aggregates", aggregates._COLUMNS, records, data)


async def test_access_log_rows(runtime: Runtime) -> None:
    at = datetime(2026, 3, 2, 1, 2, 3, 456_789, tzinfo=UTC)
    records = [
        access.AccessRecord(
            at=[at, at.astimezone(EAST) + timedelta(microseconds=1)][i % 2], actor=f"mem_{i % 2}",
            role="member", action=["report.file", "risk.query"][i % 2],
            request_digest=f"digest-{i}",
            subject_keys=tuple(secrets.token_bytes(32) for _ in range(i % 3)),
            purpose=None if i % 2 else "refund_decision", outcome=None if i % 3 else "filed",
            query_id=f"q_{i}" if i % 2 else None, jti=f"j{i}" if i % 2 else None,
        )
        for i in range(9)
    ]  # fmt: skip
    entries = [access.encode(r) for r in records]
    # What copy_entries handed the driver before it wrote the format itself.
    rows = [
        (e.record.at, e.record.actor, e.record.role, e.record.action, e.record.purpose,
         e.record.outcome, e.record.query_id, e.record.request_digest, e.entry, e.leaf_hash)
        for e in entries
    ]  # fmt: skip
    links = [
        (key, e.leaf_hash, salt, e.record.at)
        for e in entries
        for key, salt in zip(e.record.subject_keys, e.salts, strict=True)
    ]
    by_leaf, by_link = "leaf_hash", "subject_key, leaf_hash"
    async with runtime.pool.acquire() as conn:
        async with conn.transaction():
            await copy_entries(conn, entries)
        assert await _as_text(conn, "access_log", _LOG_COLUMNS, by_leaf) == await _driver_rows(
            conn, "access_log", _LOG_COLUMNS, rows, by_leaf
        )
        assert await _as_text(
            conn, "access_subjects", _SUBJECT_COLUMNS, by_link
        ) == await _driver_rows(conn, "access_subjects", _SUBJECT_COLUMNS, links, by_link)
