"""Report intake throughput: bulk (10,000-report batches) and single reports.

In-process against embedded PostgreSQL: measures the ledger use case (JSON
decoding, validation, keying, COPY, aggregates, events, access log, commit)
without HTTP: first one upload at a time, then ``--uploads`` at once (as
several clients, or several API workers, would send them: one upload's Python
work then overlaps another's database work), then single reports with the
given concurrency; last, ``--http`` signed uploads one after another through
the real API (uvicorn, one worker pinned to core 0), end to end. Prints
figures; asserts nothing.

The goal figure is the CPU per report of one upload at a time: this process
(what an API worker does) plus PostgreSQL (its postmaster and its processes
but autovacuum, read from /proc, so other work on a shared machine is not
counted).

``--compare DIR`` runs only the bulk rounds, alternately from ``DIR`` (another
source tree, e.g. ``git archive <commit> src | tar -x -C /tmp/old`` then
``/tmp/old/src``) and from this checkout, each in a fresh process against the
same database, and prints both. ``--profile FILE`` records the one-at-a-time
uploads with py-spy (raw format) and prints the CPU split per stage.
``--stages`` times the pure stages of an upload alone (no database).

    .venv/bin/python bench/bench_ledger.py [--batches 5] [--uploads 2] [--singles 3000] [--http 3]
    .venv/bin/python bench/bench_ledger.py --singles 0 --http 0 --uploads 1 --profile /tmp/bulk.raw
    .venv/bin/python bench/bench_ledger.py --compare /tmp/old/src --batches 3 --rounds 3
    .venv/bin/python bench/bench_ledger.py --stages
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import statistics
import subprocess
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
from servers import Backing, api_server, backing_servers, proc_cpu
from stages import split as profile_split

REPORTS = 10_000

# Stages of a bulk upload in a py-spy profile: a sample goes to the stage of
# the innermost frame of its stack that matches one (see ``stage_of``). The
# COPYs run as tasks of their own, so asyncpg's encoding of every COPY's
# records is one stage (its stack no longer names the caller).
STAGES: list[tuple[str, re.Pattern[str]]] = [
    (
        "access-log entries: canonical JSON, commitments, leaf hash",
        re.compile(r"domain/access\.py"),
    ),
    ("access-log rows (copy_entries)", re.compile(r"copy_entries")),
    (
        "asyncpg: COPY encoding and sending",
        re.compile(r"copy_records_to_table|copy_to_table|_copy_in"),
    ),
    ("aggregate rows", re.compile(r"storage/aggregates\.py|add_facts|_copy_new|aggregate")),
    ("report rows", re.compile(r"storage/reports\.py")),
    ("events", re.compile(r"storage/events\.py")),
    (
        "keying: pseudonyms, HMAC, request digest",
        re.compile(r"key_report|subject_key|request_hash|prepare_passing"),
    ),
    ("validation", re.compile(r"validate|violations|passes|decode_all")),
    ("facts and retention", re.compile(r"fact_of|make_fact|expiry|retention")),
    ("JSON decoding and to_domain", re.compile(r"to_domain")),
    ("ids", re.compile(r"report_ids")),
    ("other ledger code", re.compile(r"refund_registry/")),
    ("asyncpg, other", re.compile(r"asyncpg")),
]


def stage_of(stack: list[str]) -> str:
    """The stage of the innermost frame that names one (``STAGES`` order breaks
    ties within a frame); the generic last two stages only when none does."""
    if re.match(r"(bulk_rounds\.<locals>\.)?one ", stack[-1]):  # msgspec's decoding (C)
        return "JSON decoding and to_domain"
    for stages in (STAGES[:-2], STAGES[-2:]):
        for frame in reversed(stack):
            for name, pattern in stages:
                if pattern.search(frame):
                    return name
    return "other (event loop, GC)"


def postgres_cpu(pgdata: Path) -> float:
    """CPU seconds used so far by the PostgreSQL of ``pgdata``: its postmaster and
    every live child (the backends, the WAL writer, the checkpointer), except
    autovacuum workers: their work on the growing tables is deferred, and lands
    in whichever upload it happens to overlap."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])

    def ours(pid: int, fields: list[str]) -> bool:
        if pid != postmaster and int(fields[1]) != postmaster:  # fields[1]: the parent
            return False
        try:
            return b"autovacuum" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    return proc_cpu(ours)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def start_runtime(database_url: str, redis_url: str, pool_max: int) -> Any:
    from refund_registry.config import Settings
    from refund_registry.http.app import tune_gc
    from refund_registry.runtime import Runtime

    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp(prefix="rr-bench-keys-")),
        database_url=database_url,
        redis_url=redis_url,
        db_pool_max=pool_max,
    )
    rt = await Runtime.start(settings)
    tune_gc()  # as the API process does at start-up
    return rt


async def bulk_rounds(
    rt: Any, member: str, pgdata: Path, batches: int, uploads: int, profile: Path | None = None
) -> list[tuple[float, float, float]]:
    """``batches`` rounds of ``uploads`` uploads at once: per round, (wall seconds,
    this process's CPU seconds, PostgreSQL's CPU seconds), each per upload. The
    bodies are made before the first round; with ``profile``, py-spy records
    the rounds (and its pauses inflate their CPU)."""
    import msgspec

    from refund_registry.http.reports import BulkIn, to_domain

    now = datetime.now(UTC)
    every = [
        [
            msgspec.json.encode({"reports": [report(now) for _ in range(REPORTS)]})
            for _ in range(uploads)
        ]
        for _ in range(batches)
    ]

    async def one(raw: bytes) -> None:
        batch = msgspec.json.decode(raw, type=BulkIn)
        answer = await rt.ledger.file_bulk(member, [to_domain(r) for r in batch.reports])
        assert answer["created"] == REPORTS

    if profile is not None:
        profiler = _start_profiler(profile)
    out = []
    for bodies in every:
        mine, pg = own_cpu(), postgres_cpu(pgdata)
        started = time.perf_counter()
        await asyncio.gather(*(one(raw) for raw in bodies))
        seconds = time.perf_counter() - started
        mine, pg = own_cpu() - mine, postgres_cpu(pgdata) - pg
        out.append((seconds / uploads, mine / uploads, pg / uploads))
    if profile is not None:
        _stop_profiler(profiler)
    return out


def us(seconds: float) -> float:
    """Seconds per upload as microseconds per report."""
    return seconds * 1e6 / REPORTS


def print_rounds(label: str, rounds: list[tuple[float, float, float]], uploads: int) -> None:
    for seconds, mine, pg in rounds:
        print(
            f"  {label}: {seconds * uploads * 1000:7.1f} ms  {REPORTS / seconds:9,.0f} reports/s"
            f"   CPU per report {us(mine):5.1f} µs here + {us(pg):5.1f} µs PostgreSQL"
            f" = {us(mine + pg):5.1f} µs"
        )


def goal_line(rounds: list[tuple[float, float, float]]) -> str:
    mine = statistics.median(us(m) for _, m, _ in rounds)
    pg = statistics.median(us(p) for _, _, p in rounds)
    best = min(us(m + p) for _, m, p in rounds)
    return (
        f"CPU per report (median): {mine:.1f} µs API process + {pg:.1f} µs PostgreSQL"
        f" = {mine + pg:.1f} µs (best {best:.1f} µs; goal ≤ 40 µs)"
    )


async def run(args: argparse.Namespace, backing: Backing) -> None:
    import msgspec

    from refund_registry.http.reports import ReportIn, to_domain

    member = backing.signer.principal_id  # type: ignore[attr-defined]
    pgdata = backing.data_dir / "postgres"
    rt = await start_runtime(backing.database_url, backing.redis_url, args.concurrency)
    try:
        print(f"bulk intake, {args.batches} rounds of 10,000-report uploads (2 identifiers each)")
        print("  (CPU: this process, which validates, keys and encodes; PostgreSQL's processes)")
        await bulk_rounds(rt, member, pgdata, 1, 1)  # warm-up: caches, prepared statements
        single = await bulk_rounds(rt, member, pgdata, args.batches, 1)
        print_rounds("1 at once", single, 1)
        print("  " + goal_line(single))
        if args.profile:
            await bulk_rounds(rt, member, pgdata, args.batches, 1, args.profile)
            print_split(args.profile, single)
        if args.uploads > 1:
            several = await bulk_rounds(rt, member, pgdata, args.batches, args.uploads)
            print_rounds(f"{args.uploads} at once", several, args.uploads)
            rates = sorted(REPORTS / s for s, _, _ in several)
            print(f"  {args.uploads} at once: median {rates[len(rates) // 2]:,.0f} reports/s")

        if args.singles:
            now = datetime.now(UTC)
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


def _start_profiler(out: Path) -> subprocess.Popen[bytes]:
    spy = Path(sys.executable).parent / "py-spy"
    argv = [str(spy), "record", "--pid", str(os.getpid()), "--rate", "300", "--gil",
            "--format", "raw", "-o", str(out)]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    return process


def _stop_profiler(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # py-spy writes its file and exits
    process.wait(timeout=60)


def print_split(out: Path, rounds: list[tuple[float, float, float]]) -> None:
    """The stages' shares of the profile, in µs of the unprofiled ``rounds``' median
    (the profiler's pauses inflate the CPU of the rounds it records)."""
    total, per_stage = profile_split(out, stage_of)
    mine = statistics.median(us(m) for _, m, _ in rounds)
    print(f"  CPU split of the API process (py-spy, 300 Hz, {total} busy samples; {out}):")
    print("  | stage | share | µs/report |")
    print("  |---|---|---|")
    for name, n in sorted(per_stage.items(), key=lambda kv: -kv[1]):
        print(f"  | {name} | {100 * n / total:.1f} % | {mine * n / total:.1f} |")


def compare(args: argparse.Namespace, backing: Backing) -> None:
    """Bulk rounds from ``args.compare`` and from this checkout, alternately."""
    trees = {"before": str(Path(args.compare).resolve()), "after": str(Path("src").resolve())}
    results: dict[str, list[list[float]]] = {name: [] for name in trees}
    job = {
        "database_url": backing.database_url,
        "redis_url": backing.redis_url,
        "member": backing.signer.principal_id,  # type: ignore[attr-defined]
        "pgdata": str(backing.data_dir / "postgres"),
        "batches": args.batches,
    }
    for round_ in range(args.rounds):
        # Every upload grows the tables: the tree that goes first alternates.
        for name, src in sorted(trees.items(), reverse=round_ % 2 == 1):
            env = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(job)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            rounds = json.loads(out.stdout.strip().splitlines()[-1])
            results[name].extend(rounds)
            print_rounds(name, [tuple(r) for r in rounds], 1)  # type: ignore[misc]
    for name, rounds in results.items():
        print(f"{name}: " + goal_line([tuple(r) for r in rounds]))  # type: ignore[misc]
    # Rounds run one after the other on a growing database and a shared
    # machine: compare each round of "after" with the "before" round next to it.
    pairs = zip(results["before"], results["after"], strict=True)
    ratios = sorted((a[1] + a[2]) / (b[1] + b[2]) for b, a in pairs)
    api = sorted(a[1] / b[1] for b, a in zip(results["before"], results["after"], strict=True))
    print(
        f"after / before, upload by upload: total CPU {statistics.median(ratios):.2f}"
        f" (range {ratios[0]:.2f}-{ratios[-1]:.2f}), API process {statistics.median(api):.2f}"
    )


def child(job: dict[str, Any]) -> None:
    async def go() -> list[tuple[float, float, float]]:
        rt = await start_runtime(job["database_url"], job["redis_url"], 4)
        try:
            pgdata = Path(job["pgdata"])
            await bulk_rounds(rt, job["member"], pgdata, 1, 1)  # warm-up
            return await bulk_rounds(rt, job["member"], pgdata, job["batches"], 1)
        finally:
            await rt.close()

    print(json.dumps(asyncio.run(go())))


def stages() -> None:
    """CPU per report of each pure stage of a 10,000-report upload, alone: no
    database, the collector off, best of five (this checkout's code only)."""
    import gc
    import secrets

    import msgspec

    from refund_registry.domain import intake
    from refund_registry.domain import reports as rules
    from refund_registry.domain.access import AccessRecord, encode
    from refund_registry.domain.keyring import Keyring
    from refund_registry.http.reports import BulkIn, to_domain
    from refund_registry.storage import aggregates
    from refund_registry.storage import reports as report_rows

    now = datetime.now(UTC)
    raw = msgspec.json.encode({"reports": [report(now) for _ in range(REPORTS)]})
    keyring = Keyring((secrets.token_bytes(32),))
    ids = intake.new_report_ids(0, secrets.token_bytes(intake.ID_ENTROPY_BYTES * REPORTS))
    reports = [to_domain(r) for r in msgspec.json.decode(raw, type=BulkIn).reports]
    prepared = intake.prepare_bulk(keyring, reports, ids, now)
    expiry = dict(
        zip(
            [p.id for p in prepared],
            intake.first_expiries(reports, rules.RetentionPolicy()),
            strict=True,
        )
    )
    facts: dict[bytes, list[rules.Fact]] = {}
    kinds: dict[bytes, str] = {}
    for p in prepared:  # one fact per report, shared by its subjects (as the ledger does)
        fact = intake.fact_of(p, "mem_bench")
        for key, kind in zip(p.keys, p.kinds, strict=True):
            facts.setdefault(key, []).append(fact)
            kinds[key] = kind
    keys = sorted(facts)
    salts = secrets.token_bytes(32)

    def entries() -> None:
        for p in prepared:
            record = AccessRecord(
                at=now, actor="mem_bench", role="member", action="report.file",
                request_digest="d" * 43, issuer="mem_bench", jti="j" * 22,
                subject_keys=p.keys, outcome="filed",
                detail={"report_id": p.id, "category": p.report.category, "bulk": True},
            )  # fmt: skip
            encode(record, [salts[:16], salts[16:]])

    timed = {
        "JSON decoding and to_domain": lambda: [
            to_domain(r) for r in msgspec.json.decode(raw, type=BulkIn).reports
        ],
        "validate (every rule, as a refused upload is checked)": lambda: [
            rules.validate(r, now) for r in reports
        ],
        "passes (a passing upload)": lambda: [intake.passes(r, now) for r in reports],
        "request_hash (one by one)": lambda: [rules.request_hash(r) for r in reports],
        "request_hashes (a passing upload)": lambda: intake.request_hashes(reports),
        "key_report (one by one: decode, HMAC, request hash)": lambda: [
            intake.key_report(keyring, r, ids[i]) for i, r in enumerate(reports)
        ],
        "prepare_bulk (a passing upload: all of the above it needs)": lambda: intake.prepare_bulk(
            keyring, reports, ids, now
        ),
        "report rows, binary COPY": lambda: report_rows._report_rows(
            prepared, "mem_bench", now, 1, expiry
        ),
        "aggregate rows of new subjects, binary COPY": lambda: aggregates._copy_rows(
            keys, facts, kinds
        ),
        "access-log entries (record and encode)": entries,
    }
    print("pure stages of one 10,000-report upload (µs per report; no database, GC off)")
    gc.collect()
    gc.disable()
    try:
        for name, run in timed.items():
            best = float("inf")
            for _ in range(5):
                started = time.process_time()
                run()
                best = min(best, time.process_time() - started)
            print(f"  {us(best):6.1f}  {name}")
    finally:
        gc.enable()


def http_uploads(backing: Backing, count: int) -> None:
    """``count`` signed 10,000-report uploads through the API, one after another."""
    import msgspec

    signer: Any = backing.signer
    path = "/v1/reports/bulk"
    print(f"bulk intake over HTTP (uvicorn, one worker on core 0), {count} uploads")
    with api_server("uvicorn", backing) as server:
        for _ in range(count):
            raw = msgspec.json.encode(
                {"reports": [report(datetime.now(UTC)) for _ in range(REPORTS)]}
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
            assert answer["created"] == REPORTS, answer
            print(
                f"  {len(raw) / 1e6:4.1f} MB body: {seconds * 1000:7.1f} ms  "
                f"{REPORTS / seconds:9,.0f} reports/s   API CPU {cpu * 1000:4.0f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--uploads", type=int, default=2, help="uploads at once, second round")
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--http", type=int, default=3, help="uploads through the API")
    parser.add_argument("--profile", type=Path, help="py-spy raw profile of the bulk rounds")
    parser.add_argument("--compare", help="another src/ tree, alternated with this one")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with --compare")
    parser.add_argument("--stages", action="store_true", help="time the pure stages alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.stages:
        stages()
        return
    with backing_servers() as backing:
        if args.compare:
            compare(args, backing)
            return
        asyncio.run(run(args, backing))
        if args.http:
            http_uploads(backing, args.http)


if __name__ == "__main__":
    main()
