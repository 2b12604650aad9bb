"""The sequencer: gives every logged entry its index in the Merkle tree, and signs checkpoints.

Requests write access-log entries concurrently (``storage/accesslog.py``);
this use case turns them into the one ordered, tamper-evident log:

1. **One sequencer at a time.** Every batch runs in one transaction that
   first takes a PostgreSQL advisory lock (:data:`LOCK_KEY`), so two
   processes can never hand out the same index. :func:`run_sequencer` also
   holds the lock for its whole session while it is the active sequencer;
   standby processes retry every ``interval`` and the first to get the lock
   after the active one's session ends (stop, crash, lost connection) takes
   over where the stored tree ends.
2. **Contiguous indices in a stable order.** Entries are read in
   ``(txid, id)`` order, and only from transactions older than every one
   still running (``txid < pg_snapshot_xmin(…)``, the trick of the member
   feed): an entry whose transaction commits late sorts after every entry
   already sequenced, so none is ever skipped.
3. **Proof-ready storage.** Each batch inserts its leaves into
   ``log_leaves`` (index → entry) and every complete subtree it completed,
   leaves included, into ``log_nodes``, in the same transaction, so proofs
   read O(log n) stored nodes. ``log_nodes`` alone is the whole tree: proofs
   never read the tables that map indices to entries, so an entry altered,
   dropped or moved there cannot make the proofs lie about where it was. The in-memory
   :class:`~refund_registry.domain.merkle.Frontier` is rebuilt from stored
   nodes whenever the store is not where this process left it.
4. **Checkpoints.** After a pass, when the tree has grown and the latest
   checkpoint is at least ``checkpoint_interval`` seconds old (10 s by
   default), a C2SP checkpoint signed with the log key is written to
   ``checkpoints``, where it stays forever. Before signing, the stored nodes
   must reproduce the latest checkpoint's root, so this code never signs a
   tree inconsistent with one it signed before.

The rules (leaf checks, when a checkpoint is due, what is never signed) are in
:mod:`refund_registry.domain.sequencing`; the SQL is in ``storage/tree.py``.

With the loop running every second and checkpoints at most 10 s apart, an
entry is normally in a signed checkpoint within about 11 s of its receipt;
the registry promises :data:`MAX_MERGE_DELAY` (60 s). A transaction left
open anywhere in the database holds the snapshot's xmin back and with it the
sequencer, so operators should bound ``idle_in_transaction_session_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import sign_checkpoint
from refund_registry.domain.sequencing import (
    SequencerError,
    check_extends,
    checkpoint_due,
    checkpoint_surely_not_due,
    frontier_from,
    leaves_for,
)
from refund_registry.storage import tree
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translated
from refund_registry.storage.tree import LOCK_KEY

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHECKPOINT_INTERVAL",
    "DEFAULT_ORIGIN",
    "LOCK_KEY",
    "MAX_MERGE_DELAY",
    "SequencerConfig",
    "SequencerError",
    "SequencerState",
    "run_sequencer",
    "sequence_once",
]

log = logging.getLogger("refund_registry.sequencer")

DEFAULT_ORIGIN = "refund-registry.example/log"
"""The log's name: first line of every checkpoint, and the name of its signing key."""

DEFAULT_BATCH_SIZE = 1000
"""Entries per sequencing transaction. The sequencer runs in every API process,
beside the requests: its hashing holds that process's event loop for the whole
batch, so a batch of 5,000 put ~10 ms on the p99 of the risk queries in flight
(42-52 against 36-37 ms), for ~25 % more sequencing throughput (99k against 78k
entries/s, ``bench/bench_sequencer.py``; ``docs/performance.md``)."""
DEFAULT_CHECKPOINT_INTERVAL = 10.0
MAX_MERGE_DELAY = 60.0
"""Seconds within which a receipted entry is in a published checkpoint (the promise)."""

_MAX_BACKOFF = 30.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class SequencerState:
    """What a sequencer remembers between batches; only ever a cache of the store.

    ``frontier`` is trusted only while its size equals the stored tree's, so a
    stale state (another process sequenced meanwhile) costs one rebuild, never
    a wrong tree. The checkpoint fields spare the database a look-up when no
    checkpoint can be due yet.
    """

    frontier: merkle.Frontier | None = None
    checkpoint_size: int | None = None
    checkpoint_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SequencerConfig:
    """The knobs of a sequencer; the defaults are what the promises in docs/audit.md assume."""

    origin: str = DEFAULT_ORIGIN
    batch_size: int = DEFAULT_BATCH_SIZE
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL
    clock: Callable[[], datetime] = _utcnow

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.checkpoint_interval < 0:
            raise ValueError("checkpoint_interval must not be negative")


# --------------------------------------------------------------------------- one pass


async def sequence_once(
    pool: asyncpg.Pool,
    log_key: ed25519.Ed25519PrivateKey,
    *,
    origin: str = DEFAULT_ORIGIN,
    batch_size: int = DEFAULT_BATCH_SIZE,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    force_checkpoint: bool = False,
    clock: Callable[[], datetime] = _utcnow,
    state: SequencerState | None = None,
) -> int:
    """Sequence every entry that can be sequenced now; return how many were.

    Runs batches of ``batch_size`` until the backlog is drained, then writes a
    checkpoint if one is due (or, with ``force_checkpoint``, whenever the tree
    grew past the latest checkpoint; the very first pass always writes one,
    even for the empty tree, so the log always has a checkpoint to show).
    Returns 0 at once when another process is the active sequencer: the entries
    are then its to sequence. Safe to call from any number of processes.
    """
    config = SequencerConfig(origin, batch_size, checkpoint_interval, clock)
    # Covers acquiring the connection, which no repository function sees.
    async with translated(), pool.acquire() as conn:
        return await _pass(conn, log_key, config, state or SequencerState(), force_checkpoint)


async def _pass(
    conn: Conn,
    log_key: ed25519.Ed25519PrivateKey,
    config: SequencerConfig,
    state: SequencerState,
    force_checkpoint: bool,
) -> int:
    total = 0
    while True:
        done = await _sequence_batch(conn, state, config.batch_size)
        if done is None:
            return total  # another sequencer holds the lock
        total += done
        if done < config.batch_size:
            break
        # A long backlog must not hold checkpoints back past the promised delay.
        await _maybe_checkpoint(conn, log_key, config, state, force=False)
    await _maybe_checkpoint(conn, log_key, config, state, force=force_checkpoint)
    return total


async def _frontier(conn: Conn, state: SequencerState, size: int) -> merkle.Frontier:
    cached = state.frontier
    if cached is not None and cached.size == size:
        return cached
    found = await tree.fetch_nodes(conn, merkle.Frontier.node_ids_for(size))
    return frontier_from(size, found)


async def _sequence_batch(conn: Conn, state: SequencerState, batch_size: int) -> int | None:
    """One transaction: lock, read the next entries, store their leaves and nodes.

    Returns the number sequenced, or ``None`` when another session holds the lock.
    ``state.frontier`` moves on only after the commit, so a failed batch leaves
    the cache as it was.
    """
    async with conn.transaction():
        if not await tree.try_lock_for_transaction(conn):
            return None
        head = await tree.head(conn)
        pending = await tree.pending_entries(conn, head, batch_size)
        if not pending:
            return 0
        frontier = await _frontier(conn, state, head.size)
        hashes, leaves = leaves_for(head.size, pending)
        grown, nodes = frontier.append(hashes, include_leaves=True)
        await tree.store_batch(conn, leaves, nodes)
    state.frontier = grown
    return len(pending)


# --------------------------------------------------------------------------- checkpoints


async def _maybe_checkpoint(
    conn: Conn,
    log_key: ed25519.Ed25519PrivateKey,
    config: SequencerConfig,
    state: SequencerState,
    *,
    force: bool,
) -> bool:
    """Sign and store a checkpoint of the whole stored tree if one is due; True if written."""
    now = config.clock()
    if (
        state.checkpoint_at is not None
        and state.checkpoint_size is not None
        and checkpoint_surely_not_due(
            None if state.frontier is None else state.frontier.size,
            state.checkpoint_size,
            state.checkpoint_at,
            now,
            interval=config.checkpoint_interval,
            force=force,
        )
    ):
        return False
    async with conn.transaction():
        if not await tree.try_lock_for_transaction(conn):
            return False
        size = (await tree.head(conn)).size
        latest = await tree.latest_checkpoint(conn)
        if latest is not None:
            state.checkpoint_size, state.checkpoint_at = latest.size, latest.at
            if not checkpoint_due(
                size,
                latest.size,
                latest.at,
                now,
                interval=config.checkpoint_interval,
                force=force,
            ):
                return False
        frontier = await _frontier(conn, state, size)
        if latest is not None:
            found = await tree.fetch_nodes(conn, merkle.compact_range(0, latest.size))
            check_extends(latest.size, latest.root, found)
        root = frontier.root()
        note = sign_checkpoint(config.origin, size, root, config.origin, log_key)
        await tree.insert_checkpoint(conn, size=size, root=root, note=note, at=now)
    state.frontier = frontier
    state.checkpoint_size, state.checkpoint_at = size, now
    log.debug("checkpoint signed", extra={"size": size})
    return True


# --------------------------------------------------------------------------- the loop


async def run_sequencer(
    pool: asyncpg.Pool,
    log_key: ed25519.Ed25519PrivateKey,
    *,
    interval: float = 1.0,
    stop: asyncio.Event,
    origin: str = DEFAULT_ORIGIN,
    batch_size: int = DEFAULT_BATCH_SIZE,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    clock: Callable[[], datetime] = _utcnow,
) -> None:
    """Sequence and checkpoint every ``interval`` seconds while this process is the sequencer.

    Meant to run as a background task in every API and worker process: one of
    them gets the advisory lock and keeps it (on one pooled connection) until
    ``stop`` is set; the others stand by and try again every ``interval``.
    Returns once ``stop`` is set and the lock is released. A failed pass
    (database down, :class:`SequencerError`) is logged and retried with
    back-off up to 30 s; the task itself never dies of it.
    """
    config = SequencerConfig(origin, batch_size, checkpoint_interval, clock)
    failures = 0
    while not stop.is_set():
        try:
            await _lead(pool, log_key, config, interval, stop)
            failures = 0
        except Exception as exc:  # a background duty must outlive any one failure
            failures += 1
            log.warning(
                "access-log sequencer failed; retrying",
                exc_info=exc,
                extra={"failures": failures},
            )
        pause = min(interval * 2**failures, _MAX_BACKOFF) if failures else interval
        await _sleep(stop, pause)


async def _lead(
    pool: asyncpg.Pool,
    log_key: ed25519.Ed25519PrivateKey,
    config: SequencerConfig,
    interval: float,
    stop: asyncio.Event,
) -> None:
    """Take the session lock if free, then sequence until ``stop``; return at once if taken."""
    async with pool.acquire() as conn:
        if not await tree.try_lock_for_session(conn):
            return
        log.info("this process is now the access-log sequencer")
        state = SequencerState()
        try:
            while not stop.is_set():
                await _pass(conn, log_key, config, state, force_checkpoint=False)
                await _sleep(stop, interval)
        finally:
            await _release(conn)


async def _release(conn: Conn) -> None:
    """Give the session lock back, or close the connection so that nobody keeps it.

    The pool runs no reset query on release (see ``storage/db.py``), so a lock
    left on a pooled connection would outlive this sequencer and block every
    standby for good; when the unlock cannot run (connection broken, a query
    still in flight after a cancellation) the connection is terminated instead,
    which frees the lock on the server.
    """
    try:
        await asyncio.wait_for(tree.unlock(conn), timeout=5)
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception as exc:
        # Not re-raised: whatever ended the loop (an error, a cancellation) is
        # what the caller must hear about, not this follow-on failure.
        log.warning("sequencer lock release failed; connection closed", exc_info=exc)
        conn.terminate()
        return
    log.info("access-log sequencer stopped; the lock is free for a standby")


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
