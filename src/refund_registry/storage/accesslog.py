"""Access-log entries in PostgreSQL: the group-commit writer, and the auditors' reads.

A request that touches a buyer's record hands its entry to this process's
writer and waits; the writer collects the entries of every concurrent request
and stores them with one COPY and one commit per flush. A query's answer is
sent only after the commit of its entry, yet the cost of the commit is shared
by every request in the batch (a single-row synchronous INSERT per request
caps this machine at ~1.3k requests/s). A call's entries are never split
between two flushes.

Receipts: a version-1 receipt (the default) is one signature per entry, made
by the caller once its entry is durable. A caller that asks for version 2
gets a share of one signature per flush: after the commit the writer builds
the Merkle tree of the flush's version-2 entries and signs its root once
(``domain/checkpoint/batch.py``, ``docs/contract.md`` section 6).

:func:`write_in_transaction` and :func:`copy_entries` run inside the caller's
transaction, whose own translation of driver errors applies; the writer turns
any failed flush into ``Unavailable``; the read functions at the end translate
driver errors themselves (``storage/db.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519
from prometheus_client import Counter, Histogram

from refund_registry.domain.access import AccessRecord, EncodedEntry, encode, encode_many
from refund_registry.domain.audit_views import EntryFilter
from refund_registry.domain.checkpoint import level_path, sign_receipt, sign_tree
from refund_registry.domain.wire import b64url
from refund_registry.errors import Unavailable
from refund_registry.storage import binary_copy as bc
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q

log = logging.getLogger("refund_registry.accesslog")

# One flush serves every request that waited on it, so observing each flush
# costs nothing per request. Buckets from 1 ms (a quiet flush) to 2.5 s.
FLUSH_SECONDS = Histogram(
    "registry_access_log_flush_seconds",
    "Time of one group commit of access-log entries (COPY and commit)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
FLUSHED_ENTRIES = Counter(
    "registry_access_log_flushed_entries", "Access-log entries written by group commits"
)

_LOG_COLUMNS = [
    "at", "actor", "role", "action", "purpose", "outcome", "query_id",
    "request_digest", "entry", "leaf_hash",
]  # fmt: skip
_SUBJECT_COLUMNS = ["subject_key", "leaf_hash", "salt", "at"]

_Queued = tuple[EncodedEntry, asyncio.Future[None], list[dict[str, Any]] | None, int]

RECEIPT_VERSIONS = (1, 2)
"""The receipt versions a caller may ask for; 1 is the default."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def receipt_for(encoded: EncodedEntry, key: ed25519.Ed25519PrivateKey) -> dict[str, str]:
    """``{leaf_hash, logged_at, signature}``: the log's promise to include the entry."""
    at = encoded.record.at
    signature = sign_receipt(encoded.leaf_hash, encoded.at_micros, key)
    return {
        "leaf_hash": b64url(encoded.leaf_hash),
        "logged_at": at.strftime(_TIME_FORMAT),
        "signature": b64url(signature),
    }


def batch_receipts(
    entries: Sequence[EncodedEntry], key: ed25519.Ed25519PrivateKey
) -> list[dict[str, Any]]:
    """Version-2 receipts for entries of one flush, in order, under one signature.

    ``{v: 2, leaf_hash, logged_at, index, tree_size, path, signature}``. Every
    node of the tree is encoded once and the paths share the strings; so is
    every distinct time (a batch query's items share one).
    """
    if not entries:
        return []
    tree = sign_tree([(e.leaf_hash, e.at_micros) for e in entries], key)
    texts: list[list[str]] = [[b64url(node) for node in level] for level in tree.levels[:-1]]
    texts.append([])  # the root's level is never on a path
    signature = b64url(tree.signature)
    size = tree.size
    times: dict[datetime, str] = {}
    out: list[dict[str, Any]] = []
    for i, e in enumerate(entries):
        at = e.record.at
        logged_at = times.get(at)
        if logged_at is None:
            logged_at = times[at] = at.strftime(_TIME_FORMAT)
        out.append(
            {
                "v": 2,
                "leaf_hash": b64url(e.leaf_hash),
                "logged_at": logged_at,
                "index": i,
                "tree_size": size,
                "path": list(level_path(texts, i)),
                "signature": signature,
            }
        )
    return out


async def write_in_transaction(conn: Any, record: AccessRecord) -> EncodedEntry:
    """Write one entry with the caller's connection, inside the caller's transaction.

    For changes that must not exist without their log entry (filing,
    retraction, appeal steps): the two commit or roll back together.
    """
    encoded = encode(record)
    await conn.execute(
        Q["insert_access_entry"], record.at, record.actor, record.role, record.action,
        record.purpose, record.outcome, record.query_id, record.request_digest,
        encoded.entry, encoded.leaf_hash,
    )  # fmt: skip
    if record.subject_keys:
        await conn.execute(
            Q["insert_access_subjects"],
            list(record.subject_keys),
            encoded.leaf_hash,
            list(encoded.salts),
            record.at,
        )
    return encoded


async def copy_entries(conn: Any, entries: Sequence[EncodedEntry]) -> None:
    """COPY many entries and their subject links, in the caller's transaction.

    Written in PostgreSQL's binary COPY format here (``storage.binary_copy``):
    the entries of one flush or one upload share their actor, role, action and
    often their time, each encoded once.
    """
    start, link = bc.fields(len(_LOG_COLUMNS)), bc.fields(len(_SUBJECT_COLUMNS))
    texts = bc.Memo(bc.text_or_null)
    times = bc.Memo(bc.timestamptz)
    rows: list[bytes] = []
    subjects: list[bytes] = []
    for e in entries:
        r = e.record
        at, leaf = times[r.at], bc.blob(e.leaf_hash)
        rows.append(
            b"".join([
                start, at, texts[r.actor], texts[r.role], texts[r.action], texts[r.purpose],
                texts[r.outcome], texts[r.query_id], texts[r.request_digest], bc.blob(e.entry),
                leaf,
            ])
        )  # fmt: skip
        subjects.extend(
            [
                link + bc.blob(key) + leaf + bc.blob(salt) + at
                for key, salt in zip(r.subject_keys, e.salts, strict=True)
            ]
        )
    await bc.copy_binary(conn, "access_log", data=bc.payload(rows), columns=_LOG_COLUMNS)
    if subjects:
        await bc.copy_binary(
            conn, "access_subjects", data=bc.payload(subjects), columns=_SUBJECT_COLUMNS
        )


class AccessLog:
    def __init__(
        self,
        pool: asyncpg.Pool,
        key: ed25519.Ed25519PrivateKey,
        *,
        max_batch: int = 2000,
    ) -> None:
        self.pool = pool
        self.key = key
        self.max_batch = max_batch
        # (entry, future, receipts, position): one future per call, on its last
        # entry (the others hold _DONE); ``receipts`` is the call's list of
        # version-2 receipts the writer fills at ``position`` (None: version 1).
        self._queue: list[_Queued] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.flushes = 0
        self.entries = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._closing = True
        self._wakeup.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def append(self, record: AccessRecord) -> dict[str, str]:
        """Store one entry durably; return its signed (version-1) receipt."""
        return (await self.append_many([record]))[0]

    async def append_many(
        self, records: Sequence[AccessRecord], *, receipt_version: int = 1
    ) -> list[dict[str, Any]]:
        """Store entries durably (all in the same flush); return their receipts in order.

        ``receipt_version`` 2 gives receipts that share the flush's one signature.
        """
        if receipt_version not in RECEIPT_VERSIONS:
            raise ValueError(f"unknown receipt version {receipt_version!r}")
        self.start()
        encoded = encode_many(records)
        if not encoded:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        receipts: list[dict[str, Any]] | None = None
        if receipt_version == 2:
            receipts = [{}] * len(encoded)  # every slot is replaced by the writer
        last = len(encoded) - 1
        # Entries of one call share a future: they are flushed together.
        self._queue.extend(
            (entry, future if i == last else _DONE, receipts, i) for i, entry in enumerate(encoded)
        )
        self._wakeup.set()
        await future
        if receipts is not None:
            return receipts
        return [receipt_for(e, self.key) for e in encoded]

    async def _run(self) -> None:
        while not (self._closing and not self._queue):
            await self._wakeup.wait()
            self._wakeup.clear()
            # Let the requests already in this event-loop tick join the batch.
            await asyncio.sleep(0)
            while self._queue:
                # Never split a call: cut after the last entry of a call.
                cut = min(self.max_batch, len(self._queue))
                while self._queue[cut - 1][1] is _DONE:
                    cut += 1
                batch = self._queue[:cut]
                del self._queue[:cut]
                try:
                    await self._write([queued[0] for queued in batch])
                    self._sign(batch)
                except Exception as exc:  # every waiter must hear of it
                    log.warning("access log flush failed", extra={"error": str(exc)})
                    failure = Unavailable(
                        "the access log could not be written; nothing was answered",
                        code="db.unavailable",
                    )
                    for _, fut, _, _ in batch:
                        if fut is not _DONE and not fut.done():
                            fut.set_exception(failure)
                    continue
                for _, fut, _, _ in batch:
                    if fut is not _DONE and not fut.done():
                        fut.set_result(None)

    def _sign(self, batch: list[_Queued]) -> None:
        """Version-2 receipts for the flush's entries that asked for one: one signature."""
        wanted = [queued for queued in batch if queued[2] is not None]
        if not wanted:
            return
        made = batch_receipts([queued[0] for queued in wanted], self.key)
        for (_, _, receipts, position), receipt in zip(wanted, made, strict=True):
            assert receipts is not None
            receipts[position] = receipt

    @property
    def queued(self) -> int:
        """Entries waiting for the next flush (the group-commit queue's depth)."""
        return len(self._queue)

    async def _write(self, entries: list[EncodedEntry]) -> None:
        started = time.perf_counter()
        async with self.pool.acquire() as conn, conn.transaction():
            await copy_entries(conn, entries)
        FLUSH_SECONDS.observe(time.perf_counter() - started)
        FLUSHED_ENTRIES.inc(len(entries))
        self.flushes += 1
        self.entries += len(entries)


def _done_future() -> asyncio.Future[None]:
    loop = asyncio.new_event_loop()
    future: asyncio.Future[None] = loop.create_future()
    future.set_result(None)
    loop.close()
    return future


# Placeholder future for entries whose caller waits on a sibling's future.
_DONE = _done_future()


# --------------------------------------------------------------------------- reads

Reader = asyncpg.Pool | Conn


class SequencedEntry(NamedTuple):
    """An entry with its tree index: the exact stored bytes and their leaf hash."""

    leaf_index: int
    entry: bytes
    leaf_hash: bytes


@translating
async def sequenced_entries(
    db: Reader, *, after: int, filters: EntryFilter, limit: int
) -> list[SequencedEntry]:
    """Up to ``limit`` sequenced entries with index above ``after`` that match, in index order.

    The subject filter goes through the salted links: once retention has
    deleted an entry's salts, it no longer finds that entry.
    """
    rows = await db.fetch(
        Q["audit_entries"],
        after,
        filters.member,
        filters.action,
        filters.purpose,
        filters.since,
        filters.until,
        filters.subject_key,
        limit,
    )
    return [SequencedEntry(r["idx"], r["entry"], r["leaf_hash"]) for r in rows]


@translating
async def query_counts(
    db: Reader, *, start: datetime, end: datetime
) -> list[tuple[str, str | None, int]]:
    """``(member, purpose, looks)`` for every pair with a look in ``[start, end)``.

    A look is a risk query, or a read of a buyer's record in a session the
    member handed over (counted under the purpose ``subject_access``).
    """
    rows = await db.fetch(Q["audit_query_counts"], start, end)
    return [(r["actor"], r["purpose"], r["queries"]) for r in rows]


@translating
async def query_totals(db: Reader, *, start: datetime, end: datetime) -> dict[str, int]:
    """Looks (risk queries and hand-off reads) per member in ``[start, end)``;
    members without any are absent."""
    rows = await db.fetch(Q["audit_query_totals"], start, end)
    return {r["actor"]: r["queries"] for r in rows}


@translating
async def subject_spread(
    db: Reader, *, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per member: (distinct subjects, subjects named only once) of its looks in the range.

    Counted from the salted links, so a range whose salts retention has
    deleted reads as no subjects at all.
    """
    rows = await db.fetch(Q["audit_subject_spread"], start, end)
    return {r["actor"]: (r["distinct_subjects"], r["one_off_subjects"]) for r in rows}


@translating
async def delete_subject_links(db: Reader, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the oldest salts (and subject keys) older than ``before``.

    Returns how many went; the entries themselves and every hash stay.
    """
    status = await db.execute(Q["audit_expire_subject_links"], before, limit)
    return int(status.split()[-1])
