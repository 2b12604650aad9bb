"""Key-service throughput and the SDK's per-identifier cost. Prints figures only.

    .venv/bin/python bench/bench_keyservice.py [--seconds 2]

Starts embedded PostgreSQL and Valkey in a temporary folder (as the tests do),
so it needs no setup. Figures, each over ``--seconds`` of wall time:

* the OPRF evaluation alone (the domain function, no I/O);
* the service function: rate limit (one Redis round trip) + evaluation + usage
  count (one PostgreSQL upsert), called directly;
* the key-service app over HTTP in-process (ASGI transport, no sockets):
  adds signed-request verification, the jti claim and JSON;
* the SDK's local work per identifier: normalise + blind + finalise (proof
  verification included), network excluded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up

from refund_registry.cli.embedded import Endpoints
from refund_registry.client import pseudonyms
from refund_registry.config import Settings
from refund_registry.domain import identity, oprf
from refund_registry.keyservice.app import create_keyservice_app
from refund_registry.keyservice.service import KeyService
from refund_registry.runtime import Runtime
from refund_registry.storage.ratelimit import Limits
from tests.support.api import Api
from tests.support.principals import register_principal
from tests.support.servers import embedded_servers, migrated_database

UNLIMITED = Limits(per_second=10**9, per_day=10**12)


def phones(count: int) -> list[bytes]:
    return [
        identity.oprf_input("phone", identity.normalise("phone", f"1381234{i % 10_000:04d}"))
        for i in range(count)
    ]


def report(label: str, calls: int, elements: int, seconds: float) -> None:
    print(
        f"{label:<52} {calls / seconds:>9,.0f} calls/s {calls * elements / seconds:>10,.0f} evals/s"
    )


def run_sync(label: str, seconds: float, elements: int, call: Callable[[], object]) -> None:
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        call()
        calls += 1
    report(label, calls, elements, elapsed)


async def run_async(
    label: str,
    seconds: float,
    elements: int,
    call: Callable[[], Awaitable[object]],
    concurrency: int = 1,
) -> None:
    calls = 0
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal calls
        while time.perf_counter() - start < seconds:
            await call()
            calls += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    report(label, calls, elements, time.perf_counter() - start)


def sdk_cost(seconds: float) -> None:
    key = oprf.load_server_key(oprf.new_seed())
    for size in (1, 100):
        inputs_raw = [("phone", f"+86 138-1234-{i:04d}") for i in range(size)]
        timings = {"normalise": 0.0, "blind": 0.0, "finalise": 0.0}
        rounds = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            cache = pseudonyms.PseudonymCache(0)
            work = pseudonyms.plan(inputs_raw, cache)
            t1 = time.perf_counter()
            state, sent = oprf.blind(work.missing)
            t2 = time.perf_counter()
            # The key service's part, outside the timing.
            fresh, fresh_proof = oprf.evaluate_batch(key, sent)
            answer = {"evaluated": [oprf.b64e(e) for e in fresh], "proof": oprf.b64e(fresh_proof)}
            t3 = time.perf_counter()
            pseudonyms.complete(work, work.missing, state, answer, key.public_key, cache)
            t4 = time.perf_counter()
            timings["normalise"] += t1 - t0
            timings["blind"] += t2 - t1
            timings["finalise"] += t4 - t3
            rounds += 1
        per_id = {k: v / rounds / size * 1e6 for k, v in timings.items()}
        total = sum(per_id.values())
        print(
            f"SDK per identifier, batch of {size:<3}: normalise {per_id['normalise']:6.1f} µs"
            f" + blind {per_id['blind']:6.1f} µs + finalise {per_id['finalise']:6.1f} µs"
            f" = {total:6.1f} µs ({1e6 / total:,.0f} identifiers/s)"
        )


def with_servers(seconds: float) -> None:
    with embedded_servers("rrb-") as running:
        asyncio.run(measure_on(running.root, running.endpoints, seconds))


async def measure_on(root: Path, endpoints: Endpoints, seconds: float) -> None:
    settings = Settings(
        environment="test",
        data_dir=root,
        database_url=await migrated_database(endpoints.database_url, "rr_bench"),
        redis_url=endpoints.redis_url,
        db_pool_min=2,
        db_pool_max=10,
    )
    rt = await Runtime.start(settings)
    try:
        await measure(settings, rt, seconds)
    finally:
        await rt.close()


async def measure(settings: Settings, rt: Runtime, seconds: float) -> None:
    signer = await register_principal(rt.pool, "member", "bench shop")
    app = create_keyservice_app(settings, runtime_override=rt, limits=UNLIMITED)
    service: KeyService = app.state.keyservice

    server_key = service._key  # the bench may look inside; nothing else does
    for size in (1, 100):
        _, blinded = oprf.blind(phones(size))
        run_sync(
            f"OPRF evaluation alone, batch of {size}",
            seconds,
            size,
            partial(oprf.evaluate_batch, server_key, blinded),
        )
        evaluate = partial(service.evaluate, signer.principal_id, blinded)
        await run_async(
            f"service.evaluate (limit+eval+count), batch of {size}", seconds, size, evaluate
        )
        await run_async(
            f"  same, 16 concurrent callers, batch of {size}",
            seconds,
            size,
            evaluate,
            concurrency=16,
        )

        body = msgspec.json.encode({"blinded": [oprf.b64e(b) for b in blinded]})
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://keyservice"
        ) as client:
            api = Api(client)

            async def over_http(body: bytes = body, api: Api = api) -> None:
                response = await api.call(signer, "POST", "/v1/keyservice/evaluate", raw=body)
                if response.status_code != 200:
                    raise RuntimeError(response.text)

            await run_async(
                f"HTTP in-process (ASGI), 16 concurrent, batch of {size}",
                seconds,
                size,
                over_http,
                concurrency=16,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    print(f"key service bench, {args.seconds:g} s per figure")
    sdk_cost(args.seconds)
    with_servers(args.seconds)


if __name__ == "__main__":
    main()
