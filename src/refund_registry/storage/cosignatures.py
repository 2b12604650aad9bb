"""Witness cosignatures of checkpoints, in ``checkpoint_cosignatures`` (append-only).

Rows are written only by the witness collector (``services/witnessing.py``),
after the line verified under the witness's key. Driver errors become domain
errors (``storage/db.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q
from refund_registry.storage.tree import Reader

WITNESS_LOCK_KEY = 0x5252_5749  # "RRWI": the witness collector's advisory lock


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """A checkpoint's signed note and the cosignature lines stored for it."""

    size: int
    note: str
    lines: tuple[str, ...]
    at: datetime  # when the registry signed the checkpoint


@dataclass(frozen=True, slots=True)
class WitnessProgress:
    """How far one witness has come: its largest cosigned size and its latest cosignature."""

    size: int
    cosigned_at: datetime  # the time the witness wrote in its latest cosignature line
    received_at: datetime  # when the registry received that line


@translating
async def insert(
    db: Reader, *, size: int, witness: str, line: str, cosigned_at: datetime, received_at: datetime
) -> None:
    """Store a verified cosignature; a second one by the same witness for ``size`` is dropped."""
    await db.execute(Q["cosig_insert"], size, witness, line, cosigned_at, received_at)


@translating
async def witness_sizes(db: Reader, witnesses: Sequence[str]) -> dict[str, int]:
    """The largest checkpoint size each named witness has cosigned (absent: none yet)."""
    rows = await db.fetch(Q["cosig_witness_sizes"], list(witnesses))
    return {row["witness"]: row["size"] for row in rows}


@translating
async def witness_progress(db: Reader, witnesses: Sequence[str]) -> dict[str, WitnessProgress]:
    """Per named witness that cosigned anything: its largest size and latest cosignature."""
    rows = await db.fetch(Q["cosig_witness_progress"], list(witnesses))
    return {
        row["witness"]: WitnessProgress(row["size"], row["cosigned_at"], row["received_at"])
        for row in rows
    }


@translating
async def latest_witnessed(
    db: Reader, witnesses: Sequence[str], quorum: int
) -> WitnessedCheckpoint | None:
    """The largest checkpoint cosigned by at least ``quorum`` (≥ 1) of ``witnesses``."""
    row = await db.fetchrow(Q["cosig_latest_witnessed"], list(witnesses), quorum)
    if row is None:
        return None
    lines = await db.fetch(Q["cosig_lines"], row["size"], list(witnesses))
    return WitnessedCheckpoint(row["size"], row["note"], tuple(r["line"] for r in lines), row["at"])


@translating
async def try_lock(conn: Conn) -> bool:
    """Take the collector's session lock; False when another process collects."""
    return bool(await conn.fetchval(Q["seq_try_session_lock"], WITNESS_LOCK_KEY))


@translating
async def unlock(conn: Conn) -> None:
    await conn.fetchval(Q["seq_unlock"], WITNESS_LOCK_KEY)
