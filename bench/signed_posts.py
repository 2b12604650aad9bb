"""Signed risk queries for the benches: a seeded ledger, and wrk sending pre-signed POSTs.

Shared by ``bench_risk.py``, ``bench_workers.py`` and ``bench_compare.py`` (bench
scripts never import each other). Every request carries its own single-use token
bound to its body. Batches (1,000 queries of 3 identifiers) too.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: shared set-up
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package

import load
import placement

from tests.support.factories import pseudonym

QUERY = "/v1/risk/query"
BATCH = "/v1/risk/query/batch"


def prepare_load() -> str:
    """Set this driver up for signed load: wrk (installed when missing, else exit), the
    risk queries' rate limit and quota lifted to their ceilings for the servers it
    starts, and this process moved to the load generator's core. Returns wrk's path."""
    import os

    wrk = load.ensure_wrk()
    if wrk is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    os.environ["REGISTRY_QUERY_RATE_PER_SECOND"] = "1000000"
    os.environ["REGISTRY_QUERY_QUOTA_PER_DAY"] = "5000000"  # the ceiling
    placement.pin_self()
    return wrk


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
    ["Content-Type"] = "application/json"%(extra)s}, item[2])
end
"""


def run_signed_post(
    wrk: str, url: str, signer: Any, bodies: list[bytes], *, seconds: float, connections: int,
    workdir: Path, pin: bool = True, on_start: Callable[[], object] | None = None,
    receipt_version: int = 1, path: str = QUERY,
) -> load.LoadResult:  # fmt: skip
    """wrk sending ``bodies``, each with its own token; ``on_start`` runs once they are
    signed, just before the load starts (to start a profiler). ``receipt_version`` 2
    sends ``Registry-Receipt-Version: 2`` (receipts signed once per flush); ``path``
    is the route (the single query unless told)."""
    lines = [f"{signer.request_token('POST', path, b)}\t{b.decode()}" for b in bodies]
    items = workdir / f"items-{secrets.token_hex(4)}.txt"
    items.write_text("\n".join(lines) + "\n")
    script = workdir / f"post-{secrets.token_hex(4)}.lua"
    script.write_text(
        _LUA_SIGNED_POST
        % {
            "file": json.dumps(str(items)),
            "path": json.dumps(path),
            "extra": _extra(receipt_version),
        }
        + load.LUA_DONE
    )
    argv = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
            "-s", str(script), url + path]  # fmt: skip
    import subprocess

    if on_start is not None:
        on_start()
    done = subprocess.run(
        placement.pinned(argv, placement.LOAD_CORE) if pin else argv,
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


def _extra(receipt_version: int) -> str:
    """Lua table entries for the receipt version header (none for the default, 1)."""
    return f', ["Registry-Receipt-Version"] = "{receipt_version}"' if receipt_version != 1 else ""


def query_bodies(pseudonyms: list[str], count: int) -> list[bytes]:
    """``count`` one-identifier queries, half about seeded buyers, half about unknown ones."""
    bodies = []
    for i in range(count):
        p = pseudonyms[i % len(pseudonyms)] if i % 2 else pseudonym()
        bodies.append(
            json.dumps(
                {"identifiers": [{"kind": "phone", "pseudonym": p}], "purpose": "refund_decision"},
                separators=(",", ":"),
            ).encode()
        )
    return bodies


def batch_body(pseudonyms: list[str], r: int) -> bytes:
    """Batch number ``r``: 1,000 queries of 3 identifiers, one of them a seeded buyer's."""
    import msgspec

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
    return msgspec.json.encode({"queries": queries})


def batch_wrk(
    wrk: str, url: str, signer: Any, pseudonyms: list[str], *, seconds: float, connections: int,
    workdir: Path,
) -> float:  # fmt: skip
    """Batches (version-2 receipts) from wrk with ``connections`` connections, each batch
    with its own token: identifier look-ups per second. wrk reads the 700 kB answers
    in C, so the load generator takes less of the core it shares with PostgreSQL than
    Python clients do (their answers are checked in :func:`batch_lookups`)."""
    bodies = [batch_body(pseudonyms, 10_000 + r) for r in range(int(seconds * 40))]
    result = run_signed_post(
        wrk, url, signer, bodies, seconds=seconds, connections=connections, workdir=workdir,
        receipt_version=2, path=BATCH,
    )  # fmt: skip
    if result.errors:
        raise RuntimeError(f"{result.errors} batches failed under wrk")
    return 3000 * result.rps
