"""The access log's Merkle tree in PostgreSQL: stored nodes, leaves, checkpoints, the lock.

``log_leaves`` maps tree indices to access-log entries, ``log_nodes`` holds
every complete subtree (leaves included) and ``checkpoints`` the signed tree
heads. All three are append-only: a stored node never changes, so reads need
no transaction. Writes happen only in the sequencer's transactions, under its
advisory lock (:data:`LOCK_KEY`).

Every function translates driver errors into domain errors (``storage/db.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from refund_registry.domain import merkle
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import copy_records, translating
from refund_registry.storage.queries import Q

Reader = asyncpg.Pool | Conn
"""A pool or a connection: the tree's reads need no transaction."""

LOCK_KEY = 0x5252_5345  # "RRSE": the sequencer's advisory lock (migrations use "RRMI")

_LEAF_COLUMNS = ["idx", "entry_id", "txid", "leaf_hash"]
_NODE_COLUMNS = ["level", "idx", "hash"]

PendingEntry = tuple[int, int, bytes, bytes]
"""An access-log entry waiting for its index: ``(entry id, txid, entry bytes, leaf hash)``.

A plain tuple: the sequencer reads thousands per batch and unpacks them at once.
"""

Leaf = tuple[int, int, int, bytes]
"""A row of ``log_leaves``: ``(index, entry id, txid, leaf hash)``."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A row of ``checkpoints``: the signed note and the tree head it states."""

    size: int
    root: bytes
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LoggedLeaf:
    """An entry found by its leaf hash; ``index`` is ``None`` until it is sequenced."""

    index: int | None


@dataclass(frozen=True, slots=True)
class Head:
    """The stored tree's size and the ``(txid, entry id)`` cursor after its last leaf."""

    size: int
    txid: int
    entry_id: int


EMPTY_HEAD = Head(0, 0, 0)


# --------------------------------------------------------------------------- reads


@translating
async def fetch_nodes(db: Reader, ids: Iterable[merkle.NodeID]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of these complete subtrees, keyed by (level, index), in one round trip.

    A coordinate that is not stored is simply absent from the result.
    """
    wanted = list(ids)
    rows = await db.fetch(Q["audit_nodes"], [n.level for n in wanted], [n.index for n in wanted])
    return {(row["level"], row["idx"]): row["hash"] for row in rows}


@translating
async def latest_checkpoint(db: Reader) -> StoredCheckpoint | None:
    """The checkpoint of the largest tree; ``None`` before the first one is written."""
    row = await db.fetchrow(Q["audit_latest_checkpoint"])
    if row is None:
        return None
    return StoredCheckpoint(row["size"], row["root"], row["note"], row["at"])


@translating
async def find_leaf(db: Reader, leaf_hash: bytes) -> LoggedLeaf | None:
    """The entry with this leaf hash and its tree index; ``None`` if it was never logged."""
    row = await db.fetchrow(Q["audit_leaf_index"], leaf_hash)
    if row is None:
        return None
    return LoggedLeaf(row["idx"])


@translating
async def head(conn: Conn) -> Head:
    """Where the stored tree ends; :data:`EMPTY_HEAD` when it has no leaf."""
    row = await conn.fetchrow(Q["seq_head"])
    if row is None:
        return EMPTY_HEAD
    return Head(row["idx"] + 1, row["txid"], row["entry_id"])


@translating
async def pending_entries(conn: Conn, after: Head, limit: int) -> list[PendingEntry]:
    """Up to ``limit`` entries to sequence after ``after``, in ``(txid, id)`` order.

    Only entries of transactions older than every one still running are read,
    so an entry whose transaction commits late sorts after this cursor.
    """
    rows = await conn.fetch(Q["seq_pending"], after.txid, after.entry_id, limit)
    return [(r[0], r[1], r[2], r[3]) for r in rows]


# --------------------------------------------------------------------------- the lock


@translating
async def try_lock_for_transaction(conn: Conn) -> bool:
    """Take the sequencer lock until the current transaction ends; False if another has it.

    A session that already holds the lock (:func:`try_lock_for_session`) gets
    it again at once: advisory locks are re-entrant per session.
    """
    return bool(await conn.fetchval(Q["seq_try_xact_lock"], LOCK_KEY))


@translating
async def try_lock_for_session(conn: Conn) -> bool:
    """Take the sequencer lock until :func:`unlock` or the session's end; False if taken."""
    return bool(await conn.fetchval(Q["seq_try_session_lock"], LOCK_KEY))


@translating
async def unlock(conn: Conn) -> None:
    """Release the session lock taken by :func:`try_lock_for_session`."""
    await conn.fetchval(Q["seq_unlock"], LOCK_KEY)


# --------------------------------------------------------------------------- writes


@translating
async def store_batch(
    conn: Conn, leaves: Sequence[Leaf], nodes: Sequence[merkle.StoredNode]
) -> None:
    """COPY a batch's leaves and the complete subtrees they completed.

    Precondition: inside the caller's transaction, holding the sequencer lock.
    """
    await copy_records(conn, "log_leaves", records=leaves, columns=_LEAF_COLUMNS)
    await copy_records(conn, "log_nodes", records=nodes, columns=_NODE_COLUMNS)


@translating
async def insert_checkpoint(conn: Conn, *, size: int, root: bytes, note: str, at: datetime) -> None:
    """Store a signed checkpoint; one already stored for ``size`` is kept as it is."""
    await conn.execute(Q["seq_insert_checkpoint"], size, root, note, at)


@translating
async def entries_between(db: Reader, start: int, stop: int) -> list[bytes]:
    """The entry bytes of tree indices ``[start, stop)``, in index order."""
    rows = await db.fetch(Q["tile_entries"], start, stop)
    return [bytes(row["entry"]) for row in rows]
