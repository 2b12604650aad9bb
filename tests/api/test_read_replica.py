"""``REGISTRY_READ_DATABASE_URL``: auditors' listings and summaries read it, decisions never do.

The "replica" here is a second database with the same schema and different
rows, so every answer shows which database it came from: a listing that reads
the primary, or a risk answer that reads the replica, is caught by its content.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from refund_registry.cli.embedded import Endpoints
from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from tests.support.api import Api, asgi_client
from tests.support.appeals import file_report, risk
from tests.support.factories import access_record, ident, pseudonym
from tests.support.principals import register_principal
from tests.support.sequencing import sequence_all
from tests.support.servers import create_database, database_url, drop_database, unique_name

REPLICA_ACTOR = "m_only_on_the_replica"


@pytest.fixture
async def replica_url(servers: Endpoints, template_db: str) -> AsyncIterator[str]:
    """A second database, logged into as the API's role, holding entries of its own."""
    name = unique_name("r_")
    owner = await create_database(servers.database_url, name, template=template_db)
    url = database_url(servers.api_database_url, name)
    yield url
    await drop_database(servers.database_url, name)
    assert owner


async def fill_replica(settings: Settings, url: str) -> None:
    rt = await Runtime.start(settings.with_overrides(database_url=url, read_database_url=""))
    try:
        await rt.access_log.append_many([access_record(REPLICA_ACTOR) for _ in range(7)])
        await sequence_all(rt.pool, rt.parts.log_key)
    finally:
        await rt.close()


@pytest.fixture
async def split(settings: Settings, replica_url: str) -> AsyncIterator[tuple[Runtime, Api]]:
    await fill_replica(settings, replica_url)
    with_replica = settings.with_overrides(read_database_url=replica_url)
    rt = await Runtime.start(with_replica)
    try:
        async with asgi_client(with_replica, rt) as client:
            yield rt, Api(client)
    finally:
        await rt.close()


async def test_without_the_setting_the_reader_is_the_primary(runtime: Runtime) -> None:
    assert runtime.read_pool is None
    assert runtime.reader is runtime.pool


async def test_listings_and_summaries_read_the_replica_and_decisions_the_primary(
    split: tuple[Runtime, Api],
) -> None:
    rt, api = split
    assert rt.read_pool is not None
    assert rt.reader is rt.read_pool
    member = await register_principal(rt.pool, "member")
    auditor = await register_principal(rt.pool, "auditor")
    phone = ident(pseudonym())
    await file_report(api, member, phone)
    # The risk answer decides from the primary, which alone holds the report.
    answer = await risk(api, member, phone)
    assert answer["counts"]["active_reports"] == 1, answer
    await sequence_all(rt.pool, rt.parts.log_key)

    response = await api.call(auditor, "GET", "/v1/audit/entries?limit=100")
    assert response.status_code == 200, response.text
    actors = {entry["actor"] for entry in response.json()["entries"]}
    assert actors == {REPLICA_ACTOR}

    day = datetime.now(UTC).date().isoformat()
    response = await api.call(auditor, "GET", f"/v1/audit/summary?day={day}")
    assert response.status_code == 200, response.text
    members = {row["member"] for row in response.json()["members"]}
    assert members == {REPLICA_ACTOR}

    # The checkpoint and its proofs come from the primary: its tree, not the replica's.
    checkpoint = await api.call(auditor, "GET", "/v1/audit/checkpoint")
    assert checkpoint.status_code == 200, checkpoint.text
    replica_size = await rt.reader.fetchval("SELECT max(size) FROM checkpoints")
    primary_size = await rt.pool.fetchval("SELECT max(size) FROM checkpoints")
    assert replica_size != primary_size
    assert int(checkpoint.text.splitlines()[1]) == primary_size
