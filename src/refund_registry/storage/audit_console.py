"""The auditor's console reads: checkpoint history and what still waits to be merged.

Entries and the daily counts come from :mod:`refund_registry.storage.accesslog`;
this module adds only what the console shows beyond the audit API.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from refund_registry.storage.accesslog import Reader
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


class CheckpointRow(NamedTuple):
    """A signed checkpoint, the size before it, and the oldest entry it newly covered."""

    size: int
    root: bytes
    at: datetime
    previous_size: int
    oldest_new_entry: datetime | None


@translating
async def checkpoints(db: Reader, *, before: int | None, limit: int) -> list[CheckpointRow]:
    """Up to ``limit`` checkpoints below size ``before`` (``None``: any), newest first."""
    rows = await db.fetch(Q["console_checkpoints"], before, limit)
    return [
        CheckpointRow(r["size"], r["root"], r["at"], r["previous_size"], r["oldest_new_entry"])
        for r in rows
    ]


@translating
async def oldest_uncovered(db: Reader, *, signed_size: int) -> datetime | None:
    """The time of the oldest entry in no signed checkpoint: not sequenced yet, or sequenced
    at an index at or beyond ``signed_size`` (the latest checkpoint's size). ``None``: none."""
    waiting: datetime | None = await db.fetchval(Q["console_oldest_unsequenced"])
    unsigned: datetime | None = await db.fetchval(Q["console_oldest_unsigned"], signed_size)
    found = [t for t in (waiting, unsigned) if t is not None]
    return min(found) if found else None
