"""The risk query under load, next to the bare liveness route, in one run on one server.

Seeds a ledger (buyers with 0-3 reports from up to 3 platforms), starts the API
with one worker pinned to one core, and drives with wrk from the other core:

1. ``GET /health/live`` (bare framework cost);
2. ``POST /v1/risk/query`` signed, one identifier, a mix of known and unknown buyers;
3. the ratio of the two, with p50/p99;
4. ``POST /v1/risk/query/batch`` with 1,000 queries of 3 identifiers: identifier
   look-ups per second.

Every request carries its own pre-minted single-use token bound to its body.
Traffic goes to 127.0.0.1 only; each run is bounded in time. Prints figures;
asserts nothing.

    .venv/bin/python bench/bench_risk.py [--server uvicorn|granian] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

import load
import placement
import servers

from tests.support.factories import pseudonym

QUERY = "/v1/risk/query"
BATCH = "/v1/risk/query/batch"


async def seed(database_url: str, redis_url: str, buyers: int) -> list[str]:
    """File reports about ``buyers`` pseudonyms; return them (about 3 in 4 have reports)."""
    from datetime import UTC, datetime

    from data import report

    from refund_registry.config import Settings
    from refund_registry.http.reports import BulkIn, to_domain
    from refund_registry.runtime import Runtime
    from tests.support.principals import register_principal

    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.mkdtemp(prefix="rr-bench-seed-")),
        database_url=database_url,
        redis_url=redis_url,
    )
    rt = await Runtime.start(settings)
    try:
        members = [
            (await register_principal(rt.pool, "member", f"seed {i}")).principal_id
            for i in range(3)
        ]
        pseudonyms = [pseudonym() for _ in range(buyers)]
        now = datetime.now(UTC)
        for m, member in enumerate(members):
            bodies = []
            for i, p in enumerate(pseudonyms):
                if i % 4 > m:  # buyer i has (i % 4) reports, from platforms 0..
                    body = report(now)
                    body["identifiers"] = [{"kind": "phone", "pseudonym": p}]
                    bodies.append(body)
            import msgspec

            for start in range(0, len(bodies), 10_000):
                chunk = msgspec.convert(
                    {"reports": bodies[start : start + 10_000]}, BulkIn, strict=False
                )
                await rt.ledger.file_bulk(member, [to_domain(r) for r in chunk.reports])
        return pseudonyms
    finally:
        await rt.close()


_LUA_SIGNED_POST = """
local items = {}
local n = 0
init = function(args)
  for line in io.lines(%(file)s) do
    local tab = string.find(line, "\\t", 1, true)
    items[#items + 1] = {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)}
  end
end
request = function()
  n = n + 1
  local item = items[n] or items[#items]
  return wrk.format("POST", %(path)s, {["Authorization"] = "Bearer " .. item[1],
    ["Content-Type"] = "application/json"}, item[2])
end
"""


def run_signed_post(
    wrk: str, url: str, signer: Any, bodies: list[bytes], *, seconds: float, connections: int,
    workdir: Path,
) -> load.LoadResult:  # fmt: skip
    lines = [f"{signer.request_token('POST', QUERY, b)}\t{b.decode()}" for b in bodies]
    items = workdir / f"items-{secrets.token_hex(4)}.txt"
    items.write_text("\n".join(lines) + "\n")
    script = workdir / f"post-{secrets.token_hex(4)}.lua"
    script.write_text(
        _LUA_SIGNED_POST % {"file": json.dumps(str(items)), "path": json.dumps(QUERY)}
        + load.LUA_DONE
    )
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
            "-s", str(script), url + QUERY]  # fmt: skip
    import subprocess

    done = subprocess.run(
        placement.pinned(argv, placement.LOAD_CORE),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("RESULT "))
    return load.LoadResult(
        data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
        data["p99_us"] / 1000, data["errors"],
    )  # fmt: skip


def batch_lookups(url: str, signer: Any, pseudonyms: list[str], rounds: int) -> float:
    """Sequential batch requests of 1,000 queries x 3 identifiers; look-ups per second."""
    import httpx
    import msgspec

    total = 0
    elapsed = 0.0
    with httpx.Client(base_url=url, timeout=60) as client:
        for r in range(rounds):
            queries = []
            for i in range(1000):
                known = pseudonyms[(r * 1000 + i) % len(pseudonyms)]
                queries.append(
                    {
                        "identifiers": [
                            {"kind": "phone", "pseudonym": known},
                            {"kind": "email", "pseudonym": pseudonym()},
                            {"kind": "device_id", "pseudonym": pseudonym()},
                        ],
                        "purpose": "refund_decision",
                    }
                )
            body = msgspec.json.encode({"queries": queries})
            headers = {**signer.headers("POST", BATCH, body), "Content-Type": "application/json"}
            started = time.perf_counter()
            response = client.post(BATCH, content=body, headers=headers)
            elapsed += time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"batch answered {response.status_code}: {response.text[:300]}")
            total += 3000
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--batch-rounds", type=int, default=10)
    args = parser.parse_args()
    wrk = load.ensure_wrk()
    if wrk is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    os.environ["REGISTRY_QUERY_RATE_PER_SECOND"] = "1000000"
    os.environ["REGISTRY_QUERY_QUOTA_PER_DAY"] = "5000000"  # the ceiling
    placement.pin_self()
    with servers.backing_servers() as backing:
        print(f"seeding {args.buyers} buyers ...", flush=True)
        pseudonyms = asyncio.run(seed(backing.database_url, backing.redis_url, args.buyers))
        signer = backing.signer
        workdir = Path(tempfile.mkdtemp(prefix="rr-bench-risk-"))
        with servers.api_server(args.server, backing) as server:
            live = load.drive(
                server, load.LIVE, duration=args.seconds, connections=args.connections,
                tokens=None, workdir=workdir, wrk=wrk,
            )  # fmt: skip
            expected = int(args.seconds * 6000)  # more tokens than the run can use
            bodies = []
            for i in range(expected):
                p = pseudonyms[i % len(pseudonyms)] if i % 2 else pseudonym()
                bodies.append(
                    json.dumps(
                        {"identifiers": [{"kind": "phone", "pseudonym": p}],
                         "purpose": "refund_decision"}, separators=(",", ":")
                    ).encode()
                )  # fmt: skip
            cpu_before = server.cpu_seconds()
            query = run_signed_post(
                wrk, server.url, signer, bodies, seconds=args.seconds,
                connections=args.connections, workdir=workdir,
            )  # fmt: skip
            cpu = (server.cpu_seconds() - cpu_before) / max(query.requests, 1) * 1e6
            lookups = batch_lookups(server.url, signer, pseudonyms, args.batch_rounds)
    print(f"\nserver: {args.server}, one worker pinned; wrk -t1 -c{args.connections}")
    print(f"{'route':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in (("GET /health/live", live), ("POST /v1/risk/query", query)):
        print(f"{name:28} {r.rps:9,.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.errors:7d}")
    print(f"ratio risk/live: {query.rps / live.rps:.2f}   server CPU per query: {cpu:.0f} us")
    print(f"batch query: {lookups:,.0f} identifier look-ups/s (1,000 queries x 3 identifiers)")


if __name__ == "__main__":
    main()
