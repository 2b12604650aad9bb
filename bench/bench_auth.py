"""What authentication costs: signed GET /v1/whoami against bare GET /health/live.

One run prints, on one machine and one set of backing servers:

1. the ReplayGuard micro-batcher measured in-process against the embedded Valkey
   (claims/s and claims per round trip; an unbatched SET NX per claim for comparison;
   the cost of one redis-py round trip), with redis-py's hiredis parser and without;
2. for uvicorn and granian (one worker pinned to core 0, wrk on core 1), with hiredis
   and without: req/s, p50 and p99 of /health/live and of signed /v1/whoami, the
   server's CPU per request, the whoami/live ratio, and how many jti claims shared
   one Valkey read (the micro-batcher at work inside the real server).

Run: ``.venv/bin/python bench/bench_auth.py`` (about 4 minutes with the defaults). Each
figure is the best of ``--repeat`` runs, each started once the machine is quiet: the
machine may be shared, and CPU per request is the figure least disturbed by that.
``--src DIR`` runs everything from another source tree (a patched copy of ``src/``),
so a proposed speed-up can be measured without touching the working tree.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

import load
import placement
import servers
import stages
from report import machine_report


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured run")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per route and server; the best one is kept"
    )
    parser.add_argument("--connections", type=int, default=64, help="open connections (wrk -c)")
    parser.add_argument("--servers", default="uvicorn,granian", help="comma-separated")
    parser.add_argument("--hiredis", choices=("both", "on", "off"), default="both")
    parser.add_argument("--claims", type=int, default=5000, help="claims in the in-process burst")
    parser.add_argument(
        "--max-rate",
        type=float,
        default=0.0,
        help="tokens to mint per second of run (default: 2 x the warm-up rate, at least 5000)",
    )
    parser.add_argument("--src", help="run the service from this source tree instead")
    parser.add_argument("--profile", help="folder: py-spy record the worker during /v1/whoami")
    parser.add_argument("--skip-replay", action="store_true", help="skip the in-process part")
    parser.add_argument("--skip-http", action="store_true", help="skip the HTTP part")
    parser.add_argument("--python-load", action="store_true", help="use the asyncio generator")
    args = parser.parse_args()
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be 1 to 60 s (signed tokens live 120 s)")
    return args


# -- the machine -----------------------------------------------------------------


# -- the replay guard in-process ---------------------------------------------------


@dataclass
class ReplayFigures:
    parser: str
    burst_claims_per_s: float
    burst_claims_per_trip: float
    loop_claims_per_s: float
    loop_claims_per_trip: float
    unbatched_per_s: float
    round_trip_us: float


def _parser_class(with_hiredis: bool) -> Any:
    from redis import _parsers

    return _parsers._AsyncHiredisParser if with_hiredis else _parsers._AsyncRESP3Parser


def _redis_client(url: str, with_hiredis: bool) -> Any:
    from refund_registry.storage.cache import create_redis

    return create_redis(url, parser_class=_parser_class(with_hiredis))


async def _closed_loop(
    call: Callable[[int, int], Awaitable[object]], workers: int, seconds: float
) -> tuple[int, float]:
    """``workers`` loops awaiting ``call(worker, n)`` for ``seconds``: (calls made, elapsed)."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker_loop(worker: int) -> None:
        nonlocal done
        n = 0
        while time.perf_counter() < stop_at:
            await call(worker, n)
            n += 1
        done += n

    started = time.perf_counter()
    await asyncio.gather(*(worker_loop(w) for w in range(workers)))
    return done, time.perf_counter() - started


async def _replay_figures(
    url: str, *, with_hiredis: bool, claims: int, workers: int, seconds: float
) -> ReplayFigures:
    from refund_registry.storage.cache import RedisBreaker, ReplayGuard

    client = _redis_client(url, with_hiredis)
    tag = f"{time.monotonic_ns()}"
    try:
        guard = ReplayGuard(client, RedisBreaker(), prefix=f"bench:{tag}:")
        # Warm the connection pool and the code paths.
        await asyncio.gather(*(guard.claim(f"warm{i}", 60) for i in range(workers)))

        # 1. A burst: every claim requested in the same event-loop tick (best of three).
        burst_s, burst_trips = math.inf, 0
        for attempt in range(3):
            trips_before = guard.round_trips  # a counter: read as differences
            started = time.perf_counter()
            results = await asyncio.gather(
                *(guard.claim(f"b{attempt}:{i}", 60) for i in range(claims))
            )
            elapsed = time.perf_counter() - started
            assert all(results), "a fresh jti was refused"
            if elapsed < burst_s:
                burst_s, burst_trips = elapsed, guard.round_trips - trips_before

        # 2. `workers` claimers in a loop, like that many connections of a busy server.
        trips_before = guard.round_trips
        done, loop_s = await _closed_loop(
            lambda worker, n: guard.claim(f"l{worker}:{n}", 60), workers, seconds
        )
        loop_trips = guard.round_trips - trips_before

        # 3. The same load without the batcher: one SET NX round trip per claim.
        plain, plain_s = await _closed_loop(
            lambda worker, n: client.set(f"bench:{tag}:u{worker}:{n}", b"1", nx=True, ex=60),
            workers,
            seconds,
        )

        # 4. One client, one command at a time: the price of a single round trip.
        sequential = 0
        stop_at = time.perf_counter() + seconds / 2
        started = time.perf_counter()
        while time.perf_counter() < stop_at:
            await client.set(f"bench:{tag}:s{sequential}", b"1", nx=True, ex=60)
            sequential += 1
        seq_s = time.perf_counter() - started
        return ReplayFigures(
            parser="hiredis" if with_hiredis else "pure Python (RESP3)",
            burst_claims_per_s=claims / burst_s,
            burst_claims_per_trip=claims / max(burst_trips, 1),
            loop_claims_per_s=done / loop_s,
            loop_claims_per_trip=done / max(loop_trips, 1),
            unbatched_per_s=plain / plain_s,
            round_trip_us=seq_s / max(sequential, 1) * 1e6,
        )
    finally:
        await client.aclose()


def _run_async(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def replay_section(backing: servers.Backing, args: argparse.Namespace) -> list[ReplayFigures]:
    modes = _hiredis_modes(args.hiredis)
    figures = []
    # In-process figures are taken on the server core, where the API worker would run.
    if placement.pinning_available():
        os.sched_setaffinity(0, {placement.SERVER_CORE})
    try:
        for with_hiredis in modes:
            _quiet()
            figures.append(
                _run_async(
                    _replay_figures(
                        backing.redis_url,
                        with_hiredis=with_hiredis,
                        claims=args.claims,
                        workers=args.connections,
                        seconds=min(args.duration, 3.0),
                    )
                )
            )
    finally:
        placement.pin_self()
    return figures


def _hiredis_modes(choice: str) -> list[bool]:
    wanted = {"both": [True, False], "on": [True], "off": [False]}[choice]
    if True in wanted and not servers.hiredis_importable():
        print("note: hiredis could not be installed; measuring without it only")
        wanted = [False]
    return wanted


# -- HTTP ------------------------------------------------------------------------


@dataclass
class HttpFigures:
    server: str
    hiredis: bool
    live: load.LoadResult
    whoami: load.LoadResult
    claims_per_read: float | None

    @property
    def ratio(self) -> float:
        return self.whoami.rps / self.live.rps if self.live.rps else 0.0


def _valkey_counters(client: Any) -> tuple[int, int]:
    """(SET calls, reads processed): their deltas give claims per Valkey read."""
    stats = client.info("stats")
    sets = client.info("commandstats").get("cmdstat_set", {}).get("calls", 0)
    return int(sets), int(stats.get("total_reads_processed", 0))


def _worker_pid(server: servers.Server) -> int:
    """The process that runs the app: granian's worker child, or uvicorn itself."""
    leader = server.process.pid
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == leader and int(fields[2]) == leader:
                    return int(entry)
    return leader


def _hiredis_in_server(env_pythonpath: str | None) -> bool:
    env = dict(os.environ)
    if env_pythonpath:
        env["PYTHONPATH"] = env_pythonpath
    out = subprocess.run(
        [sys.executable, "-c", "import redis.utils as u; print(u.HIREDIS_AVAILABLE)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip() == "True"


def http_section(
    backing: servers.Backing, args: argparse.Namespace, wrk: str | None
) -> list[HttpFigures]:
    import redis

    valkey = redis.Redis.from_url(backing.redis_url)
    figures = []
    try:
        for kind in [s.strip() for s in args.servers.split(",") if s.strip()]:
            for with_hiredis in _hiredis_modes(args.hiredis):
                label = f"{kind}, hiredis {'on' if with_hiredis else 'off'}"
                print(f"  {label}: starting", flush=True)
                with servers.api_server(kind, backing, hiredis=with_hiredis) as server:
                    figures.append(_measure(server, backing, args, wrk, valkey, with_hiredis))
                last = figures[-1]
                print(
                    f"  {label}: live {last.live.rps:,.0f} req/s, whoami {last.whoami.rps:,.0f}"
                    f" req/s, ratio {last.ratio:.2f}",
                    flush=True,
                )
    finally:
        valkey.close()
    return figures


def _measure(
    server: servers.Server,
    backing: servers.Backing,
    args: argparse.Namespace,
    wrk: str | None,
    valkey: Any,
    with_hiredis: bool,
) -> HttpFigures:
    run = {
        "connections": args.connections,
        "workdir": backing.data_dir,
        "wrk": wrk,
    }
    # Warm-up (not reported): code paths, the key cache, Redis and PostgreSQL pools.
    warm = min(3.0, args.duration)
    load.drive(server, load.LIVE, duration=warm, tokens=None, **run)
    warm_tokens = load.mint_tokens(backing.signer, int(warm * 8000))
    warm_result = load.drive(server, load.WHOAMI, duration=warm, tokens=warm_tokens, **run)

    lives, whoamis = [], []
    claims_per_read: float | None = None
    for attempt in range(args.repeat):
        _quiet()
        lives.append(load.drive(server, load.LIVE, duration=args.duration, tokens=None, **run))

        # Minted right before the run: a token lives 120 s.
        rate = args.max_rate or max(5000.0, 2.0 * warm_result.rps)
        tokens = load.mint_tokens(backing.signer, math.ceil(rate * args.duration) + 1000)
        _quiet()
        sets_before, reads_before = _valkey_counters(valkey)
        profiler = _start_profiler(server, args, with_hiredis) if attempt == 0 else None
        whoami = load.drive(server, load.WHOAMI, duration=args.duration, tokens=tokens, **run)
        sets_after, reads_after = _valkey_counters(valkey)
        _finish_profiler(profiler)
        if whoami.requests > len(tokens):
            print(f"  warning: ran out of tokens ({len(tokens)}); raise --max-rate")
        reads = reads_after - reads_before
        if not whoamis or (whoami.errors == 0, whoami.rps) > max(
            (w.errors == 0, w.rps) for w in whoamis
        ):
            claims_per_read = (sets_after - sets_before) / reads if reads > 0 else None
        whoamis.append(whoami)
    live = max(lives, key=lambda r: (r.errors == 0, r.rps))
    best = max(whoamis, key=lambda r: (r.errors == 0, r.rps))
    return HttpFigures(server.kind, with_hiredis, live, best, claims_per_read)


def _quiet() -> None:
    busy = placement.wait_for_quiet()
    if busy > 0.10:
        print(f"  note: the machine is busy with other work ({busy:.0%} of a core) during this run")


# -- profiling ---------------------------------------------------------------------


def _start_profiler(
    server: servers.Server, args: argparse.Namespace, with_hiredis: bool
) -> tuple[subprocess.Popen[bytes], Path] | None:
    if not args.profile:
        return None
    spy = servers.VENV_BIN / "py-spy"
    if not spy.exists():
        print("  note: py-spy is not in the venv; no profile")
        return None
    folder = Path(args.profile)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{server.kind}-hiredis-{'on' if with_hiredis else 'off'}.txt"
    argv = [
        str(spy),
        "record",
        "--pid",
        str(_worker_pid(server)),
        "--duration",
        str(max(1, int(args.duration) - 2)),
        "--rate",
        "250",
        "--format",
        "raw",
        "--nonblocking",
        "-o",
        str(out),
    ]
    process = subprocess.Popen(
        placement.pinned(argv, placement.LOAD_CORE),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, out


def _finish_profiler(profiler: tuple[subprocess.Popen[bytes], Path] | None) -> None:
    if profiler is None:
        return
    process, out = profiler
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if out.exists():
        print(f"  profile: {out}")
        for line in summarise_profile(out):
            print("    " + line)


_SKIP = re.compile(
    r"click/|multiprocessing/|granian/(cli|server)|asyncio/runners|uvicorn/(main|server)"
)


def summarise_profile(path: Path, top: int = 15) -> list[str]:
    """Inclusive share of the busy samples per function (the server's own frames left out)."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for stack, count in stages.samples(path):
        total += count
        for frame in {re.sub(r":\d+\)$", ")", f) for f in stack}:
            if frame and not _SKIP.search(frame):
                inclusive[frame] += count
    if not total:
        return ["(no samples)"]
    return [f"{100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]


# -- report ------------------------------------------------------------------------


def print_replay(figures: list[ReplayFigures], args: argparse.Namespace) -> None:
    print()
    print(f"ReplayGuard in-process ({args.claims} claims at once; {args.connections} claimers)")
    print(
        "| redis-py parser | burst claims/s | claims/round trip | "
        f"{args.connections} claimers: claims/s | claims/round trip | "
        "unbatched SET NX/s | one round trip |"
    )
    print("|---|---|---|---|---|---|---|")
    for f in figures:
        print(
            f"| {f.parser} | {f.burst_claims_per_s:,.0f} | {f.burst_claims_per_trip:,.0f} | "
            f"{f.loop_claims_per_s:,.0f} | {f.loop_claims_per_trip:,.1f} | "
            f"{f.unbatched_per_s:,.0f} | {f.round_trip_us:,.0f} µs |"
        )


def print_http(figures: list[HttpFigures], args: argparse.Namespace) -> None:
    print()
    print(f"HTTP, one worker, {args.connections} connections, {args.duration:g} s per run")
    print(
        "| server | hiredis | /health/live req/s | p50 | p99 | CPU/req | "
        "/v1/whoami req/s | p50 | p99 | CPU/req | whoami/live | claims per Valkey read | "
        "other load on core 0 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def cpu(result: load.LoadResult) -> str:
        return f"{result.server_cpu_us:.0f} µs" if result.server_cpu_us else "?"

    def other(f: HttpFigures) -> str:
        loads = [r.other_load for r in (f.live, f.whoami) if r.other_load is not None]
        return f"{max(loads):.0%}" if loads else "?"

    for f in figures:
        errors = ""
        if f.live.errors or f.whoami.errors:
            errors = f" (errors: live {f.live.errors}, whoami {f.whoami.errors})"
        per_read = f"{f.claims_per_read:.1f}" if f.claims_per_read else "?"
        print(
            f"| {f.server} | {'yes' if f.hiredis else 'no'} | {f.live.rps:,.0f} | "
            f"{f.live.p50_ms:.1f} ms | {f.live.p99_ms:.1f} ms | {cpu(f.live)} | "
            f"{f.whoami.rps:,.0f} | {f.whoami.p50_ms:.1f} ms | {f.whoami.p99_ms:.1f} ms | "
            f"{cpu(f.whoami)} | {f.ratio:.2f} | {per_read} | {other(f)} |{errors}"
        )


def main() -> None:
    args = parse_args()
    if args.src:
        src = str(Path(args.src).resolve())
        sys.path.insert(0, src)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (src, os.environ.get("PYTHONPATH")) if p
        )
    with servers.hiredis_on_path(args.hiredis != "off"):
        run(args)


def run(args: argparse.Namespace) -> None:
    placement.pin_self()
    wrk = None if args.python_load else load.ensure_wrk()
    generator = (
        f"wrk -t1 -c{args.connections} ({wrk})" if wrk else "Python asyncio generator (no wrk)"
    )
    import refund_registry

    print("Refund Registry: the cost of authentication")
    for line in machine_report(generator):
        print("  " + line)
    print(f"  service code: {Path(refund_registry.__file__).parent}")
    replay: list[ReplayFigures] = []
    http: list[HttpFigures] = []
    started = time.monotonic()
    with servers.backing_servers() as backing:
        if not args.skip_replay:
            print("measuring the ReplayGuard in-process…", flush=True)
            replay = replay_section(backing, args)
            print_replay(replay, args)
        if not args.skip_http:
            with servers.hiredis_disabled_path() as hidden:
                seen = _hiredis_in_server(os.environ.get("PYTHONPATH"))
                hidden_seen = _hiredis_in_server(
                    os.pathsep.join(p for p in (hidden, os.environ.get("PYTHONPATH")) if p)
                )
            print(
                f"\nmeasuring HTTP (server sees hiredis: {seen}; with it hidden: {hidden_seen})…",
                flush=True,
            )
            http = http_section(backing, args, wrk)
            print_http(http, args)
    print(f"\ndone in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
