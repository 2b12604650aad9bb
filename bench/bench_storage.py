"""Bytes per row on a loaded database: the storage side of docs/capacity.md.

Loads an embedded PostgreSQL the way the service fills it, in-process (the
ledger's bulk intake for reports, the group-commit writer for risk-query
access-log entries, the sequencer for the tree and checkpoints), then VACUUMs
and prints, per table: rows, heap bytes, index bytes, total bytes
(``pg_total_relation_size``) per row, and the average ``pg_column_size`` of a
row. Last, the size of an inclusion and a consistency proof at the loaded tree
size. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_storage.py [--reports 100000] [--queries 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

from data import report
from servers import backing_servers

from tests.support.factories import access_record

TABLES = (
    "reports",
    "subject_aggregates",
    "events",
    "access_log",
    "access_subjects",
    "log_leaves",
    "log_nodes",
    "checkpoints",
)

SIZES = """
SELECT pg_relation_size(c.oid) AS heap,
       pg_indexes_size(c.oid) AS indexes,
       pg_total_relation_size(c.oid) AS total,
       coalesce(pg_total_relation_size(c.reltoastrelid), 0) AS toast
FROM pg_class c WHERE c.oid = $1::regclass
"""


async def load(args: argparse.Namespace, database_url: str, redis_url: str, member: str) -> None:
    from refund_registry.config import Settings
    from refund_registry.http.reports import BulkIn, to_domain
    from refund_registry.runtime import Runtime
    from refund_registry.services import audit
    from refund_registry.services.sequencer import sequence_once

    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp(prefix="rr-bench-keys-")),
        database_url=database_url,
        redis_url=redis_url,
        db_pool_max=4,
    )
    rt = await Runtime.start(settings)
    try:
        import msgspec

        now = datetime.now(UTC)
        started = time.perf_counter()
        for done in range(0, args.reports, 10_000):
            count = min(10_000, args.reports - done)
            raw = msgspec.json.encode({"reports": [report(now) for _ in range(count)]})
            batch = msgspec.json.decode(raw, type=BulkIn)
            await rt.ledger.file_bulk(member, [to_domain(r) for r in batch.reports])
        print(f"filed {args.reports:,} reports in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for done in range(0, args.queries, 2000):
            count = min(2000, args.queries - done)
            await rt.access_log.append_many([access_record(member) for _ in range(count)])
        print(
            f"logged {args.queries:,} risk-query entries in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        while await sequence_once(rt.pool, rt.parts.log_key, force_checkpoint=True):
            pass
        print(f"sequenced in {time.perf_counter() - started:.1f} s")

        async with rt.pool.acquire() as conn:
            await conn.execute("RESET ROLE")  # VACUUM needs the owner; the bench URL is it
            await conn.execute("VACUUM ANALYZE")
            print()
            print(f"{'table':<20}{'rows':>12}{'heap B/row':>12}{'index B/row':>13}"
                  f"{'total B/row':>13}{'avg row B':>11}")  # fmt: skip
            for table in TABLES:
                rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
                sizes = await conn.fetchrow(SIZES, table)
                avg = await conn.fetchval(f"SELECT avg(pg_column_size(t.*)) FROM {table} t")
                per = max(rows, 1)
                print(
                    f"{table:<20}{rows:>12,}{sizes['heap'] / per:>12.0f}"
                    f"{sizes['indexes'] / per:>13.0f}{sizes['total'] / per:>13.0f}"
                    f"{float(avg or 0):>11.0f}"
                )
            total = await conn.fetchval("SELECT pg_database_size(current_database())")
            print(f"database total: {total / 1e6:,.1f} MB")

        latest = await audit.require_checkpoint(rt.pool)
        leaf = await rt.pool.fetchval("SELECT leaf_hash FROM log_leaves WHERE idx = 0")
        inclusion = await audit.inclusion_proof(rt.pool, leaf, latest.size)
        consistency = await audit.consistency_proof(rt.pool, latest.size // 3, latest.size)
        print(
            f"tree size {latest.size:,}: inclusion proof {len(inclusion.hashes)} hashes "
            f"({32 * len(inclusion.hashes)} B), consistency proof {len(consistency.hashes)} hashes "
            f"({32 * len(consistency.hashes)} B)"
        )
    finally:
        await rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200_000, help="risk-query log entries")
    args = parser.parse_args()
    with backing_servers() as backing:
        member = backing.signer.principal_id  # type: ignore[attr-defined]
        asyncio.run(load(args, backing.database_url, backing.redis_url, member))


if __name__ == "__main__":
    main()
