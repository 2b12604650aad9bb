"""How every writer changes subject aggregates: one lock order, no lost updates.

Writers hold a subject's aggregate row from before they read its facts until
they commit, and take their locks in one order: report rows first, then new
subjects, then existing subjects, each in key order (see ``add_facts``). So
no update is lost however many members report one buyer at once, and no
cycle of waits can form. A writer that meets a concurrent change it cannot
merge raises ``Race``; ``retrying`` rolls the transaction back and runs it
again. Used by the ledger (filing, retraction, expiry) and by appeals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import reports as rules
from refund_registry.domain.access import AccessRecord
from refund_registry.errors import Conflict
from refund_registry.storage import aggregates
from refund_registry.storage import reports as report_rows
from refund_registry.storage.accesslog import receipt_for, write_in_transaction
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translated

SubjectsChanged = Callable[[Sequence[bytes]], Awaitable[None]]
"""Told the subject keys whose aggregates changed, after the commit."""

ATTEMPTS = 5
COPY_FROM = 200  # subjects; below this a COPY costs more than it saves
_T = TypeVar("_T")


class Race(Exception):
    """A concurrent writer changed what this transaction relied on: run it again."""


async def retrying(pool: asyncpg.Pool, attempt: Callable[[Conn], Awaitable[_T]]) -> _T:
    """``attempt`` in a transaction of its own; again, from the start, after a ``Race``."""
    async with translated(), pool.acquire() as conn:
        for _ in range(ATTEMPTS):
            try:
                async with conn.transaction():
                    return await attempt(conn)
            except Race:
                continue
    raise Conflict(
        "concurrent changes to the same records kept interrupting this request; retry",
        code="report.concurrent_change",
    )


async def notify(listeners: Iterable[SubjectsChanged], keys: Sequence[bytes]) -> None:
    for listener in listeners:
        await listener(keys)


async def log_change(
    conn: Conn, record: AccessRecord, log_key: ed25519.Ed25519PrivateKey | None
) -> dict[str, str] | None:
    """Write the access-log entry of a change in the change's own transaction; its
    receipt, when there is a log key to sign it."""
    encoded = await write_in_transaction(conn, record)
    return receipt_for(encoded, log_key) if log_key is not None else None


async def lock_subjects(conn: Conn, keys: Sequence[bytes]) -> dict[bytes, list[rules.Fact]]:
    """Lock existing aggregate rows (key order); return their facts."""
    return await aggregates.lock(conn, keys)


async def add_facts(
    conn: Conn, added: Mapping[bytes, list[rules.Fact]], kinds: Mapping[bytes, str]
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
    transaction rolls back instead (``Race``) and runs again.
    """
    pending = sorted(added)
    create = True
    if len(pending) >= COPY_FROM:
        pending, create = await _copy_new(conn, pending, added, kinds)
    made = await aggregates.create(conn, pending, added, kinds) if create else set()
    rest = [k for k in pending if k not in made]
    locked = await aggregates.lock(conn, rest) if rest else {}
    if len(locked) != len(rest):
        raise Race
    await aggregates.write(conn, {k: [*old, *added[k]] for k, old in locked.items()})
    return locked


async def _copy_new(
    conn: Conn,
    keys: list[bytes],
    added: Mapping[bytes, list[rules.Fact]],
    kinds: Mapping[bytes, str],
) -> tuple[list[bytes], bool]:
    """Phase one for many subjects: COPY the rows of those that have none.

    COPY is ~2.5 times as fast as an INSERT ... ON CONFLICT, but it cannot
    skip a row: if a concurrent writer created one of these subjects since the
    probe, the savepoint rolls back and every key goes the slower way.
    Returns the keys still to handle, and whether they may need creating
    (False: the probe found every one of them).
    """
    existing = await aggregates.existing(conn, keys)
    new = [k for k in keys if k not in existing]
    if not new:
        return keys, False
    if not await aggregates.copy_new(conn, new, added, kinds):
        return keys, True
    return [k for k in keys if k in existing], False


async def change_report_status(
    conn: Conn,
    report_id: str,
    facts: Mapping[bytes, list[rules.Fact]],
    old: str,
    new: str,
    now: datetime,
    reason: str,
) -> None:
    """Move a report from ``old`` to ``new`` and relabel its facts in its subjects'
    aggregates; the caller holds the report row and these subjects' rows."""
    changed = await report_rows.set_report_status(conn, report_id, old, new, now, reason)
    if not changed:  # pragma: no cover - the report row lock makes this unreachable
        raise Conflict("the report changed concurrently; retry", code="report.changed")
    await aggregates.write(conn, {k: rules.set_status(f, report_id, new) for k, f in facts.items()})
