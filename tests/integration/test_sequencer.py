"""The sequencer against real PostgreSQL: indices, stored subtrees, checkpoints, locking.

Every tree here is checked against a naive recursive RFC 9162 tree hash over
the entries read straight from ``access_log``, so the incremental frontier, the
stored nodes and the signed roots all have one independent oracle.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from msgspec.structs import replace

from refund_registry.domain import access, merkle
from refund_registry.domain.checkpoint import parse_and_verify, verifier_key_string
from refund_registry.runtime import Runtime
from refund_registry.services.audit import expire_subject_links
from refund_registry.services.sequencer import (
    DEFAULT_ORIGIN,
    LOCK_KEY,
    SequencerError,
    SequencerState,
    run_sequencer,
    sequence_once,
)
from refund_registry.storage.db import create_pool
from tests.support.factories import access_record
from tests.support.waiting import eventually

APPEND_ONLY = ["access_log", "log_leaves", "log_nodes", "checkpoints"]


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes, straight from the definition (the oracle)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


async def log_entries(rt: Runtime, count: int) -> None:
    await rt.access_log.append_many([access_record() for _ in range(count)])


def key_of(rt: Runtime) -> ed25519.Ed25519PrivateKey:
    assert rt.registry is not None
    return rt.registry.log_key


async def expected_leaves(pool: asyncpg.Pool) -> list[tuple[int, bytes]]:
    """(entry id, leaf hash) of every logged entry in the order the sequencer must use."""
    rows = await pool.fetch("SELECT id, entry FROM access_log ORDER BY txid, id")
    return [(r["id"], merkle.leaf_hash(r["entry"])) for r in rows]


async def stored_leaves(pool: asyncpg.Pool) -> list[tuple[int, int, bytes]]:
    rows = await pool.fetch("SELECT idx, entry_id, leaf_hash FROM log_leaves ORDER BY idx")
    return [(r["idx"], r["entry_id"], r["leaf_hash"]) for r in rows]


async def assert_tree_matches_log(pool: asyncpg.Pool) -> list[bytes]:
    """Leaves are contiguous, in (txid, id) order, and every stored node is the true subtree."""
    expected = await expected_leaves(pool)
    stored = await stored_leaves(pool)
    assert [(i, e, h) for i, (e, h) in enumerate(expected)] == stored
    hashes = [h for _, h in expected]
    nodes = await pool.fetch("SELECT level, idx, hash FROM log_nodes")
    by_id = {(n["level"], n["idx"]): n["hash"] for n in nodes}
    complete = {
        (level, i) for level in range(len(hashes).bit_length()) for i in range(len(hashes) >> level)
    }
    assert set(by_id) == complete
    for (level, i), value in by_id.items():
        assert value == mth(hashes[i << level : (i + 1) << level])
    return hashes


async def checkpoints(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT size, root, note, at FROM checkpoints ORDER BY size")


async def test_the_first_pass_checkpoints_the_empty_tree(runtime: Runtime) -> None:
    key = key_of(runtime)
    assert await sequence_once(runtime.pool, key) == 0
    (only,) = await checkpoints(runtime.pool)
    verifier = verifier_key_string(DEFAULT_ORIGIN, key.public_key())
    checkpoint = parse_and_verify(only["note"], verifier, origin=DEFAULT_ORIGIN)
    assert (checkpoint.size, checkpoint.root) == (0, merkle.EMPTY_ROOT)
    assert (only["size"], only["root"]) == (0, merkle.EMPTY_ROOT)
    # Nothing grew: a second pass signs nothing new.
    assert await sequence_once(runtime.pool, key, force_checkpoint=True) == 0
    assert len(await checkpoints(runtime.pool)) == 1


async def test_entries_get_contiguous_indices_stored_subtrees_and_a_signed_root(
    runtime: Runtime,
) -> None:
    key = key_of(runtime)
    for size in (5, 17, 15):  # three flushes, so three transactions' worth of txids
        await log_entries(runtime, size)
    done = await sequence_once(
        runtime.pool,
        key,
        batch_size=8,
        force_checkpoint=True,
    )
    assert done == 37
    hashes = await assert_tree_matches_log(runtime.pool)
    latest = (await checkpoints(runtime.pool))[-1]
    verifier = verifier_key_string(DEFAULT_ORIGIN, key.public_key())
    checkpoint = parse_and_verify(latest["note"], verifier)
    assert (checkpoint.size, checkpoint.root) == (37, mth(hashes))
    assert latest["root"] == mth(hashes)


async def test_restarts_and_stale_state_rebuild_the_frontier_from_stored_nodes(
    runtime: Runtime,
) -> None:
    key = key_of(runtime)
    kept = SequencerState()
    for size in (1, 2, 5, 8, 3):
        await log_entries(runtime, size)
        # A fresh process (no state) and a long-lived one whose cache goes stale
        # because the fresh one moved the tree on in between.
        await sequence_once(runtime.pool, key, batch_size=3)
        await log_entries(runtime, 1)
        await sequence_once(runtime.pool, key, batch_size=4, state=kept)
    hashes = await assert_tree_matches_log(runtime.pool)
    assert len(hashes) == 24
    assert kept.frontier is not None
    assert kept.frontier.root() == mth(hashes)


async def test_an_entry_that_commits_late_is_sequenced_after_not_skipped(
    runtime: Runtime, db_url: str
) -> None:
    key = key_of(runtime)
    await log_entries(runtime, 2)
    late = access.encode(access_record("m_late"))
    writer = await asyncpg.connect(db_url, server_settings={"role": "registry_app"})
    try:
        tx = writer.transaction()
        await tx.start()
        late_id = await writer.fetchval(
            "INSERT INTO access_log (at, actor, role, action, request_digest, entry, leaf_hash)"
            " VALUES ($1, 'm_late', 'member', 'risk.query', 'd', $2, $3) RETURNING id",
            late.record.at,
            late.entry,
            late.leaf_hash,
        )
        await log_entries(runtime, 3)  # committed after the late one started
        # Only what is older than every running transaction may be sequenced.
        assert await sequence_once(runtime.pool, key) == 2
        await tx.commit()
    finally:
        await writer.close()
    assert await sequence_once(runtime.pool, key) == 4
    stored = await stored_leaves(runtime.pool)
    assert [idx for idx, _, _ in stored] == list(range(6))
    assert stored[2][1] == late_id  # its transaction began before the three others
    await assert_tree_matches_log(runtime.pool)


async def test_concurrent_passes_never_share_an_index(runtime: Runtime) -> None:
    key = key_of(runtime)
    for _ in range(5):
        await log_entries(runtime, 10)
    counts = await asyncio.gather(
        *(sequence_once(runtime.pool, key, batch_size=5) for _ in range(4))
    )
    assert sum(counts) == 50
    await assert_tree_matches_log(runtime.pool)


async def _lock_holder(conn: asyncpg.Connection) -> list[int]:
    rows = await conn.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND objid = $1 AND database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())",
        LOCK_KEY,
    )
    return [r["pid"] for r in rows]


async def test_one_sequencer_leads_and_a_standby_takes_over_when_it_dies(
    runtime: Runtime, db_url: str
) -> None:
    key = key_of(runtime)
    admin = await asyncpg.connect(db_url)
    pools = [await create_pool(db_url, min_size=1, max_size=2) for _ in range(2)]
    stops = [asyncio.Event(), asyncio.Event()]
    tasks = [
        asyncio.create_task(run_sequencer(pool, key, interval=0.02, stop=stop))
        for pool, stop in zip(pools, stops, strict=True)
    ]
    try:

        async def one_leader() -> bool:
            return len(await _lock_holder(admin)) == 1

        async def all_sequenced() -> bool:
            logged = await admin.fetchval("SELECT count(*) FROM access_log")
            return bool(logged == await admin.fetchval("SELECT count(*) FROM log_leaves"))

        await eventually(one_leader)
        (leader,) = await _lock_holder(admin)
        await log_entries(runtime, 7)
        await eventually(all_sequenced)
        assert len(await checkpoints(runtime.pool)) >= 1

        # The leader's session dies (a crash, a lost network): the standby takes over.
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", leader)
        await log_entries(runtime, 9)
        await eventually(all_sequenced)
        await eventually(one_leader)
        assert (await _lock_holder(admin)) != [leader]
        await assert_tree_matches_log(runtime.pool)
    finally:
        for stop in stops:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        for pool in pools:
            await pool.close()
    # Stopping gives the lock back.
    assert await _lock_holder(admin) == []
    await admin.close()


async def test_checkpoints_come_at_most_every_interval_and_stay(runtime: Runtime) -> None:
    key = key_of(runtime)
    start = datetime(2030, 1, 1, tzinfo=UTC)

    async def run_at(seconds: float) -> int:
        return await sequence_once(
            runtime.pool,
            key,
            checkpoint_interval=10,
            clock=lambda: start + timedelta(seconds=seconds),
        )

    await run_at(0)
    await log_entries(runtime, 3)
    assert await run_at(4) == 3
    assert [c["size"] for c in await checkpoints(runtime.pool)] == [0]  # too soon
    assert await run_at(11) == 0
    assert [c["size"] for c in await checkpoints(runtime.pool)] == [0, 3]  # grew, and due
    assert await run_at(60) == 0
    assert [c["size"] for c in await checkpoints(runtime.pool)] == [0, 3]  # did not grow
    await log_entries(runtime, 2)
    assert await run_at(75) == 2
    sizes = [(c["size"], c["at"]) for c in await checkpoints(runtime.pool)]
    assert sizes == [
        (0, start),
        (3, start + timedelta(seconds=11)),
        (5, start + timedelta(seconds=75)),
    ]


async def test_a_damaged_store_stops_the_sequencer_before_it_signs(
    runtime: Runtime, db_url: str
) -> None:
    key = key_of(runtime)
    await log_entries(runtime, 6)
    await sequence_once(runtime.pool, key)
    superuser = await asyncpg.connect(db_url)
    try:
        await superuser.execute("SET session_replication_role = replica")
        await superuser.execute(
            "UPDATE log_nodes SET hash = sha256(hash) WHERE level = 2 AND idx = 0"
        )
    finally:
        await superuser.close()
    await log_entries(runtime, 1)
    with pytest.raises(SequencerError, match="no longer matches its checkpoint of size 6"):
        await sequence_once(runtime.pool, key, force_checkpoint=True)
    assert [c["size"] for c in await checkpoints(runtime.pool)] == [6]


async def test_an_entry_whose_bytes_do_not_match_its_receipt_is_refused(
    runtime: Runtime, db_url: str
) -> None:
    key = key_of(runtime)
    bad = access.encode(access_record())
    writer = await asyncpg.connect(db_url, server_settings={"role": "registry_app"})
    try:
        await writer.execute(
            "INSERT INTO access_log (at, actor, role, action, request_digest, entry, leaf_hash)"
            " VALUES ($1, 'm_test', 'member', 'risk.query', 'd', $2, $3)",
            bad.record.at,
            bad.entry + b" ",
            bad.leaf_hash,
        )
    finally:
        await writer.close()
    with pytest.raises(SequencerError, match="does not hash to its stored leaf hash"):
        await sequence_once(runtime.pool, key)
    assert await runtime.pool.fetchval("SELECT count(*) FROM log_leaves") == 0


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {column} = {column}",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
    ],
)
async def test_the_log_tables_are_append_only_in_the_database(
    runtime: Runtime, db_url: str, table: str, statement: str
) -> None:
    await log_entries(runtime, 2)
    await sequence_once(runtime.pool, key_of(runtime))
    column = {"access_log": "actor", "log_leaves": "idx", "log_nodes": "hash"}.get(table, "note")
    sql = statement.format(table=table, column=column)
    count = f"SELECT count(*) FROM {table}"
    before = await runtime.pool.fetchval(count)
    assert before > 0
    # The application role lacks the privilege ...
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await runtime.pool.execute(sql)
    # ... and even the owner is stopped by the append-only triggers.
    owner = await asyncpg.connect(db_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute(sql)
    finally:
        await owner.close()
    assert await runtime.pool.fetchval(count) == before


async def test_retention_unlinks_old_entries_without_touching_the_log(runtime: Runtime) -> None:
    key = key_of(runtime)
    old = datetime.now(UTC) - timedelta(days=400)
    await runtime.access_log.append_many([replace(access_record(), at=old) for _ in range(3)])
    await log_entries(runtime, 2)
    await sequence_once(runtime.pool, key)
    before = await assert_tree_matches_log(runtime.pool)
    roots = await runtime.pool.fetch("SELECT size, root FROM checkpoints")

    assert await expire_subject_links(runtime.pool, datetime.now(UTC), batch=2) == 3
    remaining = await runtime.pool.fetch("SELECT at FROM access_subjects")
    assert len(remaining) == 2
    assert all(r["at"] > old for r in remaining)
    # Not one hash changed: the tree and its checkpoints still stand.
    assert await assert_tree_matches_log(runtime.pool) == before
    assert await runtime.pool.fetch("SELECT size, root FROM checkpoints") == roots
    assert await expire_subject_links(runtime.pool, datetime.now(UTC)) == 0
