"""Two source trees' API servers alternated in one run: bare, signed single and batch queries.

On a host whose speed moves by a third within minutes, a before/after from two
separate runs measures the host as much as the change. This script starts the
backing servers and seeds the ledger once, then, round after round, starts one
API worker (pinned, under uvicorn as ``bench_risk.py`` runs it) from each tree
in turn, in the order A B, B A, A B, ... and measures each the same way:

* ``GET /health/live`` from wrk, 64 connections;
* signed single queries (version-1 receipts) from wrk, 64 connections, after
  a one-second warm-up;
* with ``--batch-connections``, 1,000-query batches (version-2 receipts) from
  wrk with that many connections.

It prints the server's CPU per request and the requests per second of each
run, then each tree's mean and the ratio of the means. Nothing is asserted.

    git archive <commit> | tar -x -C /tmp/rr-before
    .venv/bin/python bench/bench_compare.py --tree before=/tmp/rr-before/src \\
        --tree after=src [--rounds 4] [--seconds 6] [--batch-connections 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

import load
import servers
from signed_posts import batch_wrk, prepare_load, query_bodies, run_signed_post, seed


def measure(
    wrk: str, backing: servers.Backing, src: str, pseudonyms: list[str], args: argparse.Namespace
) -> dict[str, float]:
    """One worker's figures: CPU per request (µs; ms per batch) and requests per second."""
    workdir = Path(tempfile.mkdtemp(prefix="rr-bench-compare-"))
    out: dict[str, float] = {}
    with servers.api_server("uvicorn", backing, src=src) as server:
        before = server.cpu_seconds()
        live = load.drive(
            server, load.LIVE, duration=args.seconds, connections=64, tokens=None,
            workdir=workdir, wrk=wrk,
        )  # fmt: skip
        out["live µs"] = (server.cpu_seconds() - before) / live.requests * 1e6
        out["live req/s"] = live.rps
        warm = query_bodies(pseudonyms, 4000)
        run_signed_post(wrk, server.url, backing.signer, warm, seconds=1, connections=64,
                        workdir=workdir)  # fmt: skip
        bodies = query_bodies(pseudonyms, int(args.seconds * 6000))
        before = server.cpu_seconds()
        query = run_signed_post(wrk, server.url, backing.signer, bodies, seconds=args.seconds,
                                connections=64, workdir=workdir)  # fmt: skip
        if query.errors:
            raise RuntimeError(f"{query.errors} signed queries failed")
        out["query µs"] = (server.cpu_seconds() - before) / query.requests * 1e6
        out["query req/s"] = query.rps
        out["query p99 ms"] = query.p99_ms
        if args.batch_connections:
            before = server.cpu_seconds()
            rate = batch_wrk(wrk, server.url, backing.signer, pseudonyms,
                             seconds=args.seconds, connections=args.batch_connections,
                             workdir=workdir)  # fmt: skip
            batches = rate * args.seconds / 3000
            out["batch ms"] = (server.cpu_seconds() - before) / batches * 1e3
            out["look-ups/s"] = rate
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=SRC",
                        help="a name and a src/ folder; give two")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--batch-connections", type=int, default=0)
    parser.add_argument("--buyers", type=int, default=20_000)
    args = parser.parse_args()
    pairs = [t.partition("=") for t in args.tree]
    trees = [(name, str(Path(src).resolve())) for name, _, src in pairs]
    if len(trees) != 2:
        raise SystemExit("give two trees: --tree NAME=SRC --tree NAME=SRC")
    wrk = prepare_load()
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
    with servers.backing_servers() as backing:
        pseudonyms = asyncio.run(seed(backing.database_url, backing.redis_url, args.buyers))
        for r in range(args.rounds):
            for name, src in trees if r % 2 == 0 else trees[::-1]:
                figures = measure(wrk, backing, src, pseudonyms, args)
                results[name].append(figures)
                shown = "  ".join(f"{k} {v:,.1f}" for k, v in figures.items())
                print(f"{name:>10}  {shown}", flush=True)
    print("\nmean of each tree, and the second over the first:")
    (first, a), (second, b) = results.items()
    for key in a[0]:
        mean_a = statistics.mean(f[key] for f in a)
        mean_b = statistics.mean(f[key] for f in b)
        print(f"  {key:14} {first} {mean_a:10,.1f}   {second} {mean_b:10,.1f}   "
              f"ratio {mean_b / mean_a:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
