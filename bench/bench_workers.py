"""Signed risk queries per second with ``serve --workers 1`` and ``--workers 2``, in one run.

Seeds a ledger, then runs ``refund-registry serve`` against the same PostgreSQL
and Valkey twice, with one worker and with two, and drives each with the same
load generator as ``bench_risk.py`` (wrk, one thread, pre-signed single-use
tokens bound to their bodies, half known buyers). Nothing is pinned: the
workers, wrk, PostgreSQL and Valkey share every core, as they would on one
host. Prints requests per second, p50/p99 and the ratio; asserts nothing.

    .venv/bin/python bench/bench_workers.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

import load
import psutil
import servers
from signed_posts import query_bodies, run_signed_post, seed

from tests.support.waiting import free_port

KINDS = ("refund-registry", "postgres", "valkey", "wrk")


def cpu_by_kind(root: Path) -> dict[str, float]:
    """CPU seconds used so far by each kind of process of this bench: the server (this
    script's children, once they are waited for: wrk), and the PostgreSQL and Valkey
    running in ``root`` (the backing servers' folder), never another program's."""
    totals = dict.fromkeys(KINDS, 0.0)

    def add(kind: str, processes: list[psutil.Process]) -> None:
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                totals[kind] += times.user + times.system

    backing: list[psutil.Process] = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or ())
        if str(root) not in line:
            continue
        if "valkey" in line:
            add("valkey", [process])
            backing.append(process)
        elif "postgres" in line:  # the postmaster; its children are the backends
            with contextlib.suppress(psutil.Error):
                family = [process, *process.children(recursive=True)]
                add("postgres", family)
                backing.extend(family)
    skip = {p.pid for p in backing}
    add("refund-registry", [
        p for p in psutil.Process().children(recursive=True)
        if p.pid not in skip and p.name() != "wrk"
    ])  # fmt: skip
    # wrk lives only during the run: its CPU is read as a waited-for child's
    totals["wrk"] = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
    return totals


@contextmanager
def serve(backing: servers.Backing, workers: int) -> Iterator[str]:
    """``refund-registry serve --workers N`` on the backing servers; its URL once ready."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": backing.database_url,
        "REDIS_URL": backing.redis_url,
        "REGISTRY_DATA_DIR": tempfile.mkdtemp(prefix="rr-bench-workers-"),
        "REGISTRY_QUERY_RATE_PER_SECOND": "1000000",
        "REGISTRY_QUERY_QUOTA_PER_DAY": "5000000",  # the ceiling
        "REGISTRY_LOG_LEVEL": "WARNING",
        "REGISTRY_AUDIENCE": backing.signer.audience,  # serve's public URL names its own port
    }
    errors_path = Path(env["REGISTRY_DATA_DIR"]) / "serve.err"
    errors = errors_path.open("w")
    command = [str(servers.VENV_BIN / "refund-registry"), "serve", f"--port={port}"]
    process = subprocess.Popen(
        [*command, f"--workers={workers}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "ready at" not in line:
            process.wait(timeout=30)
            raise RuntimeError(f"serve did not start: {errors_path.read_text()[-3000:]}")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of 1 and 2 workers")
    args = parser.parse_args()
    wrk = load.ensure_wrk()
    if wrk is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    results: list[tuple[int, load.LoadResult]] = []
    split: list[dict[str, float]] = []
    with servers.backing_servers() as backing:
        print(f"seeding {args.buyers} buyers ...", flush=True)
        pseudonyms = asyncio.run(seed(backing.database_url, backing.redis_url, args.buyers))
        workdir = Path(tempfile.mkdtemp(prefix="rr-bench-workers-"))
        before: dict[str, float] = {}

        def mark() -> None:
            before.update(cpu_by_kind(backing.data_dir))

        # Alternated, so that a change in the machine's other load hits both alike.
        for _ in range(args.rounds):
            for workers in (1, 2):
                bodies = query_bodies(pseudonyms, int(args.seconds * 8000))
                with serve(backing, workers) as url:
                    time.sleep(1.0)  # let every worker finish its start-up work
                    result = run_signed_post(
                        wrk, url, backing.signer, bodies, seconds=args.seconds,
                        connections=args.connections, workdir=workdir, pin=False, on_start=mark,
                    )  # fmt: skip
                    after = cpu_by_kind(backing.data_dir)
                    results.append((workers, result))
                    split.append({k: (after[k] - before[k]) / result.requests * 1e6 for k in KINDS})
    print(f"\nPOST /v1/risk/query, signed; wrk -t1 -c{args.connections}, {args.seconds:.0f} s")
    print(f"{'workers':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  "
          "CPU µs per request: " + ", ".join(KINDS))  # fmt: skip
    for (workers, r), cpu in zip(results, split, strict=True):
        print(f"{workers:7d} {r.rps:9,.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.errors:7d}  "
              + ", ".join(f"{cpu[k]:.0f}" for k in KINDS))  # fmt: skip
    one = sum(r.requests for w, r in results if w == 1) / sum(
        r.seconds for w, r in results if w == 1
    )
    two = sum(r.requests for w, r in results if w == 2) / sum(
        r.seconds for w, r in results if w == 2
    )
    if any(r.errors > r.requests // 100 for _, r in results):
        raise SystemExit("more than 1 % of the requests failed: the figures above are not answers")
    print(f"1 worker: {one:,.0f} req/s, 2 workers: {two:,.0f} req/s; ratio {two / one:.2f}")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
