"""A batch risk query's CPU in the service, in-process: no HTTP, no JSON, no token.

Seeds a ledger (the same as ``bench_risk.py``), starts the runtime in this
process against the embedded servers and calls ``RiskService.query`` with
batches of 1,000 queries of 3 identifiers (one seeded buyer, two unknown) as
the batch route does, one after another: this process's CPU time per batch,
which is the look-up, scoring, log entries, group commit and receipts without
the server around them. Finer than the server's CPU in ``bench_risk.py``,
which moves in steps of the kernel's clock ticks.

    .venv/bin/python bench/bench_batch.py [--batches 10] [--rounds 3] [--receipt-version 2]
    # another source tree, for before/after (run both one after the other, twice):
    PYTHONPATH=/tmp/rr-base/src .venv/bin/python bench/bench_batch.py

Prints the CPU per batch of each round and the best; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

import servers
from signed_posts import seed

from tests.support.factories import pseudonym
from tests.support.principals import register_principal


async def measure(
    database_url: str, redis_url: str, pseudonyms: list[str], args: argparse.Namespace
) -> list[float]:
    from refund_registry.config import Settings
    from refund_registry.domain.inquiry import QueryItem
    from refund_registry.runtime import Runtime
    from refund_registry.services.authn import Caller

    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp(prefix="rr-bench-batch-")),
        database_url=database_url,
        redis_url=redis_url,
        query_rate_per_second=1_000_000,
        query_quota_per_day=5_000_000,
    )
    rt = await Runtime.start(settings)
    try:
        member = (await register_principal(rt.pool, "member", "bench batch")).principal_id
        caller = Caller(member, "member", "bench batch", "kid", "jti-bench", "d" * 43, {})

        def batch(n: int) -> list[QueryItem]:
            return [
                QueryItem(
                    (
                        ("phone", pseudonyms[(n * 1000 + i) % len(pseudonyms)]),
                        ("email", pseudonym()),
                        ("device_id", pseudonym()),
                    ),
                    "refund_decision",
                )
                for i in range(1000)
            ]

        per_round = []
        for r in range(args.rounds + 1):  # the first round warms up
            batches = [batch(r * args.batches + b) for b in range(args.batches)]
            started = time.process_time()
            for items in batches:
                await rt.risk.query(caller, items, batch=True, receipt_version=args.receipt_version)
            if r:
                per_round.append((time.process_time() - started) / args.batches * 1e3)
        return per_round
    finally:
        await rt.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--receipt-version", type=int, choices=[1, 2], default=2)
    parser.add_argument("--buyers", type=int, default=20_000)
    args = parser.parse_args()
    with servers.backing_servers() as backing:
        pseudonyms = asyncio.run(seed(backing.database_url, backing.redis_url, args.buyers))
        rounds = asyncio.run(measure(backing.database_url, backing.redis_url, pseudonyms, args))
    shown = ", ".join(f"{ms:.1f}" for ms in rounds)
    print(f"service CPU per 1,000-query batch (v{args.receipt_version} receipts): {shown} ms;"
          f" best {min(rounds):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
