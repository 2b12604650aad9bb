"""PostgreSQL SIGKILLed mid-request: a 503 within seconds, then the supervisor restarts it.

Each case holds one request at one step with a lock (every COPY of a bulk
upload, the merge into an existing buyer's aggregate, a single filing, a risk
query's access-log entry), kills the whole server there, and checks that the
request is answered 503 with ``Retry-After`` (never a hang, never a 500);
that the supervisor ``serve`` uses brings the server back by itself; that the
same request, signed anew, then lands; and that every acknowledged report is
stored exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvloop

from refund_registry.cli.embedded import EmbeddedServers, Endpoints
from refund_registry.cli.supervisor import Part, Supervisor
from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from refund_registry.storage.db import CONNECTION_GONE, copy_records
from tests.support.api import Api, asgi_client, assert_problem
from tests.support.factories import ident, pseudonym, report_body
from tests.support.faults import hold, kill_postgres, wait_for, wait_until_blocked
from tests.support.principals import register_principal
from tests.support.servers import database_url, migrated_database

ANSWER_WITHIN = 10.0
"""Seconds a request held at the moment of the kill may take to be answered."""
BULK = 600
"""Reports in the bulk upload: enough subjects that new ones are COPYed (the
threshold is 200). The writer stuck on a full socket is shown by the megabyte
COPY of the last test."""


@dataclass
class Cluster:
    embedded: EmbeddedServers
    owner_url: str
    api_url: str

    @property
    def pgdata(self) -> Path:
        return self.embedded.pgdata


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL of its own (the suite kills it), kept running by ``serve``'s supervisor."""
    root = Path(tempfile.mkdtemp(prefix="rrf-", dir="/tmp"))
    embedded = EmbeddedServers(root, valkey=False)
    endpoints = embedded.attach()
    owner = asyncio.run(migrated_database(endpoints.database_url, "rr_faults"))
    try:
        yield Cluster(embedded, owner, database_url(endpoints.api_database_url, "rr_faults"))
    finally:
        embedded.release()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Registry:
    api: Api
    member: Signer
    cluster: Cluster
    acknowledged: set[str] = field(default_factory=set)


@pytest.fixture
def supervised(cluster: Cluster) -> Iterator[Cluster]:
    """``serve``'s supervisor, fresh for each case: one kill each, no back-off carried over."""
    embedded = cluster.embedded
    parts = [Part("embedded PostgreSQL", embedded.postgres_alive, embedded.restart_postgres)]
    with Supervisor(parts, interval=0.2):
        yield cluster


@contextlib.asynccontextmanager
async def _registry(cluster: Cluster, redis_url: str, data_dir: Path) -> AsyncIterator[Registry]:
    wait_for(cluster.embedded.postgres_alive, 30, "PostgreSQL running")
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        database_url=cluster.api_url,
        owner_database_url=cluster.owner_url,
        redis_url=redis_url,
        db_pool_min=1,
        db_pool_max=8,
    )
    rt = await _until_up(lambda: Runtime.start(settings))
    try:
        member = await register_principal(rt.pool)
        async with asgi_client(settings, rt) as client:
            registry = Registry(Api(client), member, cluster)
            yield registry
            await _exactly_once(registry)
    finally:
        await asyncio.wait_for(rt.close(), 30)


Case = Callable[[Registry], Awaitable[None]]


@pytest.fixture
def run_case(supervised: Cluster, servers: Endpoints, tmp_path: Path) -> Callable[[Case], None]:
    """Run a case on uvloop, the event loop ``serve`` runs the API on (its transports,
    not asyncio's, are the ones whose COPY writer used to wait forever)."""

    def run(case: Case) -> None:
        async def scenario() -> None:
            async with _registry(supervised, servers.redis_url, tmp_path) as registry:
                await case(registry)

        uvloop.run(scenario())

    return run


async def _until_up(start: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await start()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def _killed_while_held(
    registry: Registry, lock: str, args: tuple[Any, ...], send: Callable[[], Any]
) -> httpx.Response:
    """Send a request, hold it at ``lock``, SIGKILL PostgreSQL; the answer it got."""
    blocker = await asyncpg.connect(registry.cluster.owner_url)
    try:
        await hold(blocker, lock, *args)
        request = asyncio.create_task(send())
        await wait_until_blocked(blocker, request)
        kill_postgres(registry.cluster.pgdata)
        response: httpx.Response = await asyncio.wait_for(request, ANSWER_WITHIN)
    finally:
        blocker.terminate()
    doc = assert_problem(response, 503, "db.unavailable")
    assert int(response.headers["retry-after"]) >= 1, doc
    return response


async def _again(send: Callable[[], Any], seconds: float = 60) -> httpx.Response:
    """Send (signed anew each time) until the restarted server answers other than 503."""
    deadline = time.monotonic() + seconds
    while True:
        response: httpx.Response = await asyncio.wait_for(send(), ANSWER_WITHIN)
        if response.status_code != 503 or time.monotonic() > deadline:
            assert response.status_code < 500, (response.status_code, response.text[:500])
            return response
        await asyncio.sleep(0.3)


async def _exactly_once(registry: Registry) -> None:
    """Every acknowledged case reference is stored once; nothing else of this member is."""
    conn = await _until_up(lambda: asyncpg.connect(registry.cluster.owner_url))
    try:
        rows = await conn.fetch(
            "SELECT case_reference, count(*) AS n FROM reports WHERE member_id = $1 GROUP BY 1",
            registry.member.principal_id,
        )
    finally:
        await conn.close()
    stored = {r["case_reference"]: r["n"] for r in rows}
    assert set(stored) == registry.acknowledged
    assert set(stored.values()) <= {1}


def _bulk(buyer: str) -> dict[str, Any]:
    # Every report names a buyer of its own, and the first also a buyer already
    # on file (``buyer``), whose aggregate row the merge must lock.
    reports = [report_body(identifiers=[ident(pseudonym())]) for _ in range(BULK)]
    reports[0]["identifiers"].append(ident(buyer, "email"))
    return {"reports": reports}


async def _file_one(registry: Registry, buyer: str) -> None:
    body = report_body(identifiers=[ident(buyer, "email")])
    response = await registry.api.call(registry.member, "POST", "/v1/reports", body)
    assert response.status_code == 201, response.text
    registry.acknowledged.add(body["case_reference"])


@pytest.mark.parametrize(
    "phase",
    [
        "COPY reports",
        "COPY subject_aggregates",
        "merge",
        "COPY events",
        "COPY access_log",
        "COPY access_subjects",
    ],
)
def test_bulk_upload_killed_in_each_phase(run_case: Callable[[Case], None], phase: str) -> None:
    run_case(lambda registry: _bulk_case(registry, phase))


async def _bulk_case(registry: Registry, phase: str) -> None:
    buyer = pseudonym()
    await _file_one(registry, buyer)
    body = _bulk(buyer)

    def send() -> Any:
        return registry.api.call(registry.member, "POST", "/v1/reports/bulk", body)

    if phase == "merge":
        lock = "SELECT 1 FROM subject_aggregates ORDER BY subject_key FOR UPDATE"
    else:
        lock = f"LOCK TABLE {phase.removeprefix('COPY ')} IN EXCLUSIVE MODE"
    await _killed_while_held(registry, lock, (), send)
    landed = await _again(send)
    assert landed.status_code == 201, landed.text[:500]
    answer = landed.json()
    assert answer["created"] == BULK  # the killed attempt left nothing behind
    registry.acknowledged.update(r["case_reference"] for r in body["reports"])


def test_single_filing_killed_while_writing(run_case: Callable[[Case], None]) -> None:
    run_case(_single_case)


async def _single_case(registry: Registry) -> None:
    body = report_body(identifiers=[ident(pseudonym())])

    def send() -> Any:
        return registry.api.call(registry.member, "POST", "/v1/reports", body)

    await _killed_while_held(registry, "LOCK TABLE reports IN EXCLUSIVE MODE", (), send)
    landed = await _again(send)
    assert landed.status_code == 201, landed.text
    registry.acknowledged.add(body["case_reference"])


def test_risk_query_killed_before_its_log_entry_commits(run_case: Callable[[Case], None]) -> None:
    run_case(_risk_case)


async def _risk_case(registry: Registry) -> None:
    buyer = pseudonym()
    await _file_one(registry, buyer)
    query = {"identifiers": [ident(buyer, "email")], "purpose": "refund_decision"}

    def send() -> Any:
        return registry.api.call(registry.member, "POST", "/v1/risk/query", query)

    await _killed_while_held(registry, "LOCK TABLE access_log IN EXCLUSIVE MODE", (), send)
    answered = await _again(send)
    assert answered.status_code == 200, answered.text
    assert answered.json()["score"] > 0


def test_a_copy_whose_server_dies_ends_within_seconds(supervised: Cluster) -> None:
    """Megabytes of COPY data held by a lock: the driver's writer waits for the socket
    to drain when the server dies; ``copy_records`` ends it all the same."""

    async def scenario() -> None:
        setup = await asyncpg.connect(supervised.owner_url)
        await setup.execute("CREATE TABLE IF NOT EXISTS fault_copy (b bytea)")
        await setup.close()
        conn = await asyncpg.connect(supervised.owner_url)
        blocker = await asyncpg.connect(supervised.owner_url)
        try:
            await hold(blocker, "LOCK TABLE fault_copy IN EXCLUSIVE MODE")
            rows = ((b"x" * 200,) for _ in range(50_000))
            copy = asyncio.create_task(
                copy_records(conn, "fault_copy", records=rows, columns=["b"])
            )
            await wait_until_blocked(blocker, copy)
            kill_postgres(supervised.pgdata)
            with pytest.raises(CONNECTION_GONE):
                await asyncio.wait_for(copy, ANSWER_WITHIN)
        finally:
            blocker.terminate()
            conn.terminate()

    uvloop.run(scenario())
