"""Access-log sequencing throughput, checkpoint signing latency, and proof latency.

In-process against embedded PostgreSQL. For each batch size, a backlog of
entries is written through the real group-commit writer (``AccessLog``), then
one ``sequence_once`` pass drains it: leaf indices, every complete subtree
stored, one checkpoint signed at the end. The figure is entries integrated per
second with their proofs ready (target: at least 20,000/s). Then: the cost of
signing one checkpoint note (pure), of a whole checkpointing pass (lock, read,
consistency self-check, sign, insert), and of serving an inclusion and a
consistency proof from the stored nodes. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_sequencer.py [--entries 100000] [--batch-sizes 1000,5000,20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

from servers import backing_servers


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="backlog per batch size")
    parser.add_argument("--batch-sizes", default="1000,5000,20000", help="comma-separated")
    parser.add_argument("--checkpoints", type=int, default=50, help="checkpointing passes timed")
    parser.add_argument("--proofs", type=int, default=500, help="proofs of each kind timed")
    return parser.parse_args()


def _records(count: int) -> list[object]:
    """Entries as a member's risk query writes them, each from another member."""
    from tests.support.factories import access_record

    return [access_record("m_" + secrets.token_hex(4)) for _ in range(count)]


async def _fill(writer: object, count: int) -> float:
    started = time.perf_counter()
    chunk = 2000
    for start in range(0, count, chunk):
        await writer.append_many(_records(min(chunk, count - start)))  # type: ignore[attr-defined]
    return time.perf_counter() - started


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"


async def run(args: argparse.Namespace, database_url: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from refund_registry.domain.checkpoint import sign_checkpoint
    from refund_registry.services import audit
    from refund_registry.services.sequencer import DEFAULT_ORIGIN, sequence_once
    from refund_registry.storage.accesslog import AccessLog
    from refund_registry.storage.db import create_pool

    pool = await create_pool(database_url, min_size=2, max_size=4)
    key = ed25519.Ed25519PrivateKey.generate()
    writer = AccessLog(pool, key)
    try:
        print(f"sequencing a backlog of {args.entries:,} entries per run (one pass drains it)")
        for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
            wrote = await _fill(writer, args.entries)
            started = time.perf_counter()
            done = await sequence_once(pool, key, batch_size=batch_size, force_checkpoint=True)
            elapsed = time.perf_counter() - started
            size = await pool.fetchval("SELECT count(*) FROM log_leaves")
            nodes = await pool.fetchval("SELECT count(*) FROM log_nodes")
            print(
                f"  batch {batch_size:>6,}: {done:,} entries in {elapsed:.2f} s = "
                f"{done / elapsed:,.0f} entries/s integrated with proofs stored "
                f"(tree {size:,} leaves, {nodes:,} stored nodes; "
                f"writing the backlog took {wrote:.1f} s)"
            )

        size = await pool.fetchval("SELECT count(*) FROM log_leaves")
        root = os.urandom(32)
        rounds = 2000
        started = time.perf_counter()
        for _ in range(rounds):
            sign_checkpoint(DEFAULT_ORIGIN, size, root, DEFAULT_ORIGIN, key)
        signing = (time.perf_counter() - started) / rounds
        print(f"checkpoint note signing (Ed25519, pure): {signing * 1e6:.0f} µs each")

        passes: list[float] = []
        for _ in range(args.checkpoints):
            await writer.append_many(_records(1))
            started = time.perf_counter()
            await sequence_once(pool, key, force_checkpoint=True)
            passes.append(time.perf_counter() - started)
        print(
            f"a pass that sequences 1 entry and writes its checkpoint "
            f"(lock, read, self-check, sign, insert): {_ms(passes)}"
        )

        size = await pool.fetchval("SELECT count(*) FROM log_leaves")
        picks = random.sample(range(size), min(args.proofs, size))
        hashes = {
            r["idx"]: r["leaf_hash"]
            for r in await pool.fetch(
                "SELECT idx, leaf_hash FROM log_leaves WHERE idx = ANY($1::bigint[])", picks
            )
        }
        inclusion: list[float] = []
        consistency: list[float] = []
        for index in picks:
            started = time.perf_counter()
            proof = await audit.inclusion_proof(pool, hashes[index], None)
            inclusion.append(time.perf_counter() - started)
            started = time.perf_counter()
            await audit.consistency_proof(pool, index + 1, size)
            consistency.append(time.perf_counter() - started)
        print(
            f"inclusion proof in a tree of {size:,} ({len(proof.hashes)} hashes): {_ms(inclusion)}"
        )
        print(f"consistency proof to {size:,}: {_ms(consistency)}")
    finally:
        await writer.close()
        await pool.close()


def main() -> None:
    args = parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}"
    )
    with backing_servers() as backing:
        asyncio.run(run(args, backing.database_url))


if __name__ == "__main__":
    main()
