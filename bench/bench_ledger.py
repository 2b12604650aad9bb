"""Report intake throughput: bulk (10,000-report batches) and single reports.

In-process against embedded PostgreSQL: measures the ledger use case (JSON
decoding, validation, keying, COPY, aggregates, events, access log, commit)
without HTTP: first one upload at a time, then ``--uploads`` at once (as
several clients, or several API workers, would send them: one upload's Python
work then overlaps another's database work), then single reports with the
given concurrency; last, ``--http`` signed uploads one after another through
the real API (uvicorn, one worker pinned to core 0), end to end. Prints
figures; asserts nothing.

    .venv/bin/python bench/bench_ledger.py [--batches 5] [--uploads 2] [--singles 3000] [--http 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

from data import report
from servers import Backing, api_server, backing_servers


async def run(args: argparse.Namespace, database_url: str, redis_url: str, member: str) -> None:
    import msgspec

    from refund_registry.config import Settings
    from refund_registry.http.app import tune_gc
    from refund_registry.http.reports import BulkIn, ReportIn, to_domain
    from refund_registry.runtime import Runtime

    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp(prefix="rr-bench-keys-")),
        database_url=database_url,
        redis_url=redis_url,
        db_pool_max=args.concurrency,
    )
    rt = await Runtime.start(settings)
    tune_gc()  # as the API process does at start-up
    try:
        now = datetime.now(UTC)

        async def timed(uploads: int) -> tuple[float, float, float]:
            """Wall seconds, this process's CPU seconds, the rest of the machine's."""
            bodies = [
                msgspec.json.encode({"reports": [report(now) for _ in range(10_000)]})
                for _ in range(uploads)
            ]

            async def one(raw: bytes) -> None:
                batch = msgspec.json.decode(raw, type=BulkIn)
                answer = await rt.ledger.file_bulk(member, [to_domain(r) for r in batch.reports])
                assert answer["created"] == 10_000

            own, machine = _cpu_seconds()
            started = time.perf_counter()
            await asyncio.gather(*(one(raw) for raw in bodies))
            seconds = time.perf_counter() - started
            own_after, machine_after = _cpu_seconds()
            mine = own_after - own
            return seconds, mine, machine_after - machine - mine

        print(f"bulk intake, {args.batches} rounds of 10,000-report uploads (2 identifiers each)")
        print("  (CPU: this process, which validates, keys and encodes; then the rest of the")
        print("   machine, mostly PostgreSQL; per 10,000 reports)")
        for uploads in sorted({1, max(args.uploads, 1)}):
            rates = []
            for _ in range(args.batches):
                seconds, mine, rest = await timed(uploads)
                rates.append(uploads * 10_000 / seconds)
                print(
                    f"  {uploads} at once: {seconds * 1000:7.1f} ms  {rates[-1]:9,.0f} reports/s"
                    f"   CPU {mine * 1000 / uploads:4.0f} ms here + {rest * 1000 / uploads:4.0f} ms"
                )
            print(
                f"  best {max(rates):,.0f} reports/s, median {sorted(rates)[len(rates) // 2]:,.0f}"
            )

        singles = [
            to_domain(msgspec.convert(report(now), ReportIn, strict=False))
            for _ in range(args.singles)
        ]
        queue = list(singles)

        async def worker() -> None:
            while queue:
                await rt.ledger.file(member, queue.pop())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        seconds = time.perf_counter() - started
        print(
            f"single reports, {args.singles} at concurrency {args.concurrency}: "
            f"{args.singles / seconds:,.0f} reports/s (one transaction each)"
        )
    finally:
        await rt.close()


def _cpu_seconds() -> tuple[float, float]:
    """CPU time of this process, and of the whole machine (Linux /proc/stat)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    return usage.ru_utime + usage.ru_stime, busy / os.sysconf("SC_CLK_TCK")


def http_uploads(backing: Backing, count: int) -> None:
    """``count`` signed 10,000-report uploads through the API, one after another."""
    import msgspec

    signer: Any = backing.signer
    path = "/v1/reports/bulk"
    print(f"bulk intake over HTTP (uvicorn, one worker on core 0), {count} uploads")
    with api_server("uvicorn", backing) as server:
        for _ in range(count):
            raw = msgspec.json.encode(
                {"reports": [report(datetime.now(UTC)) for _ in range(10_000)]}
            )
            request = urllib.request.Request(
                server.url + path,
                data=raw,
                method="POST",
                headers={"Content-Type": "application/json", **signer.headers("POST", path, raw)},
            )
            cpu = server.cpu_seconds()
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=120) as response:
                answer = json.loads(response.read())
            seconds = time.perf_counter() - started
            cpu = server.cpu_seconds() - cpu
            assert answer["created"] == 10_000, answer
            print(
                f"  {len(raw) / 1e6:4.1f} MB body: {seconds * 1000:7.1f} ms  "
                f"{10_000 / seconds:9,.0f} reports/s   API CPU {cpu * 1000:4.0f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--uploads", type=int, default=2, help="uploads at once, second round")
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--http", type=int, default=3, help="uploads through the API")
    args = parser.parse_args()
    with backing_servers() as backing:
        member = backing.signer.principal_id  # type: ignore[attr-defined]
        asyncio.run(run(args, backing.database_url, backing.redis_url, member))
        if args.http:
            http_uploads(backing, args.http)


if __name__ == "__main__":
    main()
