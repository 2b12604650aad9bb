"""The Redis path of a signed request, in-process: CPU per request for its jti claim and rate limit.

Every signed risk query claims its token (``ReplayGuard.claim``) and charges its
organisation's rate limit (``RateLimiter.acquire``). This bench runs both, for
``--connections`` concurrent requests in a closed loop, against the embedded
Valkey, and prints the CPU time of this process per request (the API worker's
share; Valkey's own CPU is printed beside it), next to a floor: the same loop
with both calls replaced by an ``await`` of nothing, which is what the loop
itself costs. With and without redis-py's hiredis parser when it can be
installed into a temporary folder (the venv is never changed).

    .venv/bin/python bench/bench_valkey.py [--requests 20000] [--rounds 3]
    # another source tree (say, the one before a change), same bench:
    PYTHONPATH=/tmp/rr-base/src .venv/bin/python bench/bench_valkey.py

Asserts nothing; every figure is the best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up

import psutil

from tests.support.servers import embedded_servers


def valkey_cpu() -> float:
    """CPU seconds used so far by every running valkey-server."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if "valkey" in (proc.info["name"] or "") and proc.info["cpu_times"] is not None:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


async def measure(url: str, args: argparse.Namespace) -> None:
    from redis.utils import HIREDIS_AVAILABLE

    from refund_registry.storage.cache import RedisBreaker, ReplayGuard, create_redis
    from refund_registry.storage.ratelimit import RateLimiter

    try:
        from refund_registry.storage.redis_batch import RedisBatcher
    except ImportError:  # a source tree from before the module existed
        from refund_registry.storage.cache import RedisBatcher  # type: ignore[attr-defined,no-redef]

    redis = create_redis(url)
    breaker = RedisBreaker()
    batcher = RedisBatcher(redis)
    guard = ReplayGuard(redis, breaker, batcher=batcher)
    limiter = RateLimiter(
        redis, breaker, namespace="rr:rl:bench", per_second=10**8, per_day=10**10, batcher=batcher
    )

    async def nothing() -> None:
        await asyncio.sleep(0)

    async def signed() -> None:
        await guard.claim("iss:" + secrets.token_hex(12), 120, int(time.time()))
        await limiter.acquire("org_bench", 1)

    async def floor() -> None:
        await nothing()
        await nothing()

    async def closed_loop(step: Any) -> tuple[float, float]:
        left = args.requests

        async def connection() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await step()

        cpu, server = time.process_time(), valkey_cpu()
        await asyncio.gather(*(connection() for _ in range(args.connections)))
        per = 1e6 / args.requests
        return (time.process_time() - cpu) * per, (valkey_cpu() - server) * per

    await closed_loop(signed)  # warm up: connections, scripts
    results = {}
    for name, step in (("floor", floor), ("claim + limit", signed)):
        results[name] = min([await closed_loop(step) for _ in range(args.rounds)])
    await redis.aclose()
    parser = "hiredis" if HIREDIS_AVAILABLE else "pure Python"
    base = results["floor"][0]
    worker, server = results["claim + limit"]
    print(
        f"{parser:12} floor {base:5.1f} µs, claim + limit {worker:5.1f} µs "
        f"(above the floor: {worker - base:5.1f} µs), Valkey {server:5.1f} µs per request"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="an already running Valkey (used by the hiredis run)")
    args = parser.parse_args()
    if args.url:
        import uvloop

        uvloop.run(measure(args.url, args))
        return
    with embedded_servers("rr-bench-valkey-") as servers:
        url = servers.endpoints.redis_url
        base = [sys.executable, __file__, "--url", url, f"--requests={args.requests}",
                f"--connections={args.connections}", f"--rounds={args.rounds}"]  # fmt: skip
        subprocess.run(base, check=True, env={**os.environ, "RR_NO_HIREDIS": "1"})
        with tempfile.TemporaryDirectory() as folder:
            got = subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--target", folder, "hiredis"],
                capture_output=True,
            )
            if got.returncode == 0:
                path = os.pathsep.join(p for p in (folder, os.environ.get("PYTHONPATH")) if p)
                subprocess.run(base, check=True, env={**os.environ, "PYTHONPATH": path})
            else:
                print("hiredis could not be installed: measured without it only")


if __name__ == "__main__":
    if os.environ.get("RR_NO_HIREDIS") and "hiredis" in sys.modules:
        raise SystemExit("hiredis is importable from the venv; cannot measure without it")
    main()
