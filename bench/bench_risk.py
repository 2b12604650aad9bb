"""The risk query under load, next to the bare liveness route, in one run on one server.

Seeds a ledger (buyers with 0-3 reports from up to 3 platforms), starts the API
with one worker pinned to one core, and drives with wrk from the other core:

1. ``GET /health/live`` (bare framework cost);
2. ``POST /v1/risk/query`` signed, one identifier, a mix of known and unknown buyers;
3. the ratio of the two, with p50/p99;
4. ``POST /v1/risk/query/batch`` with 1,000 queries of 3 identifiers: identifier
   look-ups per second.

Steps 2 and 4 run with version-1 receipts (one signature per answer) and with
version-2 receipts (``Registry-Receipt-Version: 2``: one signature per
group-commit flush), alternately, ``--rounds`` times each; the server's CPU per
request is the best of the rounds (the machine may be shared).

Every request carries its own pre-minted single-use token bound to its body.
Traffic goes to 127.0.0.1 only; each run is bounded in time. Prints figures;
asserts nothing.

    .venv/bin/python bench/bench_risk.py [--server uvicorn|granian] [--seconds 10]
        [--profile FILE]   # py-spy the worker during the signed queries; CPU split per stage
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

import load
import servers
import stages
from signed_posts import (
    BATCH,
    batch_body,
    batch_wrk,
    prepare_load,
    query_bodies,
    run_signed_post,
    seed,
)


def batch_lookups(
    url: str,
    signer: Any,
    pseudonyms: list[str],
    rounds: int,
    receipt_version: int = 1,
    clients: int = 1,
) -> float:
    """Batch requests of 1,000 queries x 3 identifiers, ``rounds`` from each of ``clients``
    sending one after another; identifier look-ups per second over the whole."""
    import threading

    import httpx
    import msgspec

    bodies = [
        [batch_body(pseudonyms, c * rounds + r) for r in range(rounds)] for c in range(clients)
    ]
    failures: list[str] = []
    answers: list[bytes] = []

    def client_loop(mine: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for body in mine:
                headers = {
                    **signer.headers("POST", BATCH, body),
                    "Content-Type": "application/json",
                }
                headers["Registry-Receipt-Version"] = str(receipt_version)
                response = client.post(BATCH, content=body, headers=headers)
                if response.status_code != 200:
                    failures.append(f"batch answered {response.status_code}: {response.text[:300]}")
                    return
                answers.append(response.content)  # checked once the clock has stopped

    threads = [threading.Thread(target=client_loop, args=(mine,)) for mine in bodies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(failures[0])
    # The answers are checked after the run: parsing them on the load generator's
    # core during it would take CPU from PostgreSQL, which shares that core.
    assert len(answers) == rounds * clients
    for answer in answers:
        results = msgspec.json.decode(answer)["results"]
        if len(results) != 1000:
            raise RuntimeError(f"a batch answered {len(results)} results, not 1,000")
        signatures = {r["receipt"]["signature"] for r in results}
        if receipt_version == 2 and len(signatures) != 1:
            raise RuntimeError(f"a v2 batch carried {len(signatures)} signatures, not 1")
    return 3000 * rounds * clients / elapsed


def mixed(
    wrk: str, url: str, signer: Any, pseudonyms: list[str], args: argparse.Namespace, workdir: Path
) -> tuple[Any, int]:
    """Signed single queries (wrk) while one client sends batches back to back: the
    single queries' result, and the batches answered meanwhile."""
    import threading

    stop = threading.Event()
    done: list[float] = []

    def batches() -> None:
        while not stop.is_set():
            done.append(batch_lookups(url, signer, pseudonyms, 1, 2))

    thread = threading.Thread(target=batches)
    try:
        result = run_signed_post(
            wrk, url, signer, query_bodies(pseudonyms, int(args.seconds * 6000)),
            seconds=args.seconds, connections=args.connections, workdir=workdir,
            receipt_version=2, on_start=thread.start,
        )  # fmt: skip
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
    return result, len(done)


def flush_counters(url: str) -> tuple[float, float]:
    """(entries written by group commits, flushes) so far, from the server's ``/metrics``."""
    import httpx

    found = {}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("registry_access_log_flushed_entries_total",
                    "registry_access_log_flush_seconds_count"):  # fmt: skip
            found[name] = float(value)
    return (
        found.get("registry_access_log_flushed_entries_total", 0.0),
        found.get("registry_access_log_flush_seconds_count", 0.0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--batch-rounds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="alternate v1/v2 runs, each")
    parser.add_argument("--profile", help="file: py-spy raw profile of the worker (queries)")
    args = parser.parse_args()
    wrk = prepare_load()
    with servers.backing_servers() as backing:
        print(f"seeding {args.buyers} buyers ...", flush=True)
        pseudonyms = asyncio.run(seed(backing.database_url, backing.redis_url, args.buyers))
        signer = backing.signer
        workdir = Path(tempfile.mkdtemp(prefix="rr-bench-risk-"))
        with servers.api_server(args.server, backing) as server:
            live_before = server.cpu_seconds()
            live = load.drive(
                server, load.LIVE, duration=args.seconds, connections=args.connections,
                tokens=None, workdir=workdir, wrk=wrk,
            )  # fmt: skip
            live_cpu = (server.cpu_seconds() - live_before) / max(live.requests, 1) * 1e6
            runs: dict[int, list[tuple[Any, float]]] = {1: [], 2: []}
            batches: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
            per_flush: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.rounds):
                for version in (1, 2):
                    # More tokens than the run can use.
                    bodies = query_bodies(pseudonyms, int(args.seconds * 6000))
                    entries_before, flushes_before = flush_counters(server.url)
                    cpu_before = server.cpu_seconds()
                    result = run_signed_post(
                        wrk, server.url, signer, bodies, seconds=args.seconds,
                        connections=args.connections, workdir=workdir, receipt_version=version,
                    )  # fmt: skip
                    used = (server.cpu_seconds() - cpu_before) / max(result.requests, 1) * 1e6
                    entries, flushes = flush_counters(server.url)
                    per_flush[version].append(
                        (entries - entries_before) / max(flushes - flushes_before, 1)
                    )
                    runs[version].append((result, used))
                for version in (1, 2):
                    cpu_before = server.cpu_seconds()
                    rate = batch_lookups(server.url, signer, pseudonyms, args.batch_rounds, version)
                    per_batch = (server.cpu_seconds() - cpu_before) / args.batch_rounds * 1e3
                    batches[version].append((rate, per_batch))
            # Several clients at once: the worker decodes and scores one batch while
            # PostgreSQL looks up or commits another's.
            together = {
                n: max(
                    batch_lookups(server.url, signer, pseudonyms, args.batch_rounds, 2, clients=n)
                    for _ in range(args.rounds)
                )
                for n in (2, 4)
            }
            under_wrk = {
                n: max(
                    batch_wrk(wrk, server.url, signer, pseudonyms, seconds=min(args.seconds, 5),
                              connections=n, workdir=workdir)
                    for _ in range(args.rounds)
                )
                for n in (2, 4)
            }  # fmt: skip
            beside = mixed(wrk, server.url, signer, pseudonyms, args, workdir)
            query, cpu = min(runs[1], key=lambda run: run[1])
            if args.profile:  # a second run, sampled: py-spy pauses the worker for each sample
                pid = stages.worker_pid(server.process.pid)
                started: list[Any] = []
                run_signed_post(
                    wrk, server.url, signer, query_bodies(pseudonyms, int(args.seconds * 6000)),
                    seconds=args.seconds, connections=args.connections, workdir=workdir,
                    on_start=lambda: started.append(
                        stages.start_profiler(pid, Path(args.profile), args.seconds - 1)
                    ),
                )  # fmt: skip
                stages.finish_profiler(started[0])
    writes = (
        " (answers in one write)" if args.server == "uvicorn" and servers.uvicorn_protocol() else ""
    )
    print(f"\nserver: {args.server}{writes}, one worker pinned; wrk -t1 -c{args.connections}")
    print(f"{'route':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in (("GET /health/live", live), ("POST /v1/risk/query", query)):
        print(f"{name:28} {r.rps:9,.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.errors:7d}")
    print(f"ratio risk/live (req/s): {query.rps / live.rps:.2f}")
    print(f"server CPU per request: live {live_cpu:.0f} us, query {cpu:.0f} us"
          f" (live/query {live_cpu / cpu:.2f})")  # fmt: skip
    print("\nreceipts, v1 (a signature per answer) vs v2 (a signature per flush), best of "
          f"{args.rounds} alternating rounds:")  # fmt: skip
    for version in (1, 2):
        result, used = min(runs[version], key=lambda run: run[1])
        rate, per_batch = min(batches[version], key=lambda b: b[1])
        print(f"  v{version}: query {result.rps:7,.0f} req/s, server CPU {used:4.0f} us/request,"
              f" errors {result.errors}; batch {per_batch:6.1f} ms CPU/request"
              f" ({per_batch:4.1f} us/item), {rate:9,.0f} identifier look-ups/s")  # fmt: skip
    for version in (1, 2):
        queries = ", ".join(f"{u:.0f}" for _, u in runs[version])
        batch = ", ".join(f"{c:.1f}" for _, c in batches[version])
        sizes = ", ".join(f"{n:.1f}" for n in per_flush[version])
        print(f"  v{version} every round: query {queries} us; batch {batch} ms;"
              f" single queries' entries per flush {sizes}")  # fmt: skip
    for n, rate in together.items():
        print(f"  v2 batches from {n} clients at once: {rate:,.0f} identifier look-ups/s")
    for n, rate in under_wrk.items():
        print(f"  v2 batches from wrk, {n} connections: {rate:,.0f} identifier look-ups/s")
    alone = min((r for r, _ in runs[2]), key=lambda r: r.p99_ms)
    result, count = beside
    print(f"  v2 single queries while one client sends batches back to back ({count} batches):"
          f" {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
          f" (alone: p50 {alone.p50_ms:.1f} ms, p99 {alone.p99_ms:.1f} ms)")  # fmt: skip
    q1, q2 = (min(u for _, u in runs[v]) for v in (1, 2))
    b1, b2 = (min(c for _, c in batches[v]) for v in (1, 2))
    print(f"  v2/v1 CPU: query {q2 / q1:.2f}, batch {b2 / b1:.2f}")
    if args.profile and Path(args.profile).exists():
        print(f"\nCPU split of a signed query ({args.profile}):")
        for line in stages.table(Path(args.profile), cpu):
            print(line)


if __name__ == "__main__":
    main()
