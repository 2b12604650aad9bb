"""Shared fixtures: real PostgreSQL and Valkey from the embedded wheels.

One pair of servers runs for the whole session in a temporary data folder.
The schema is migrated once into a template database, and every test that
needs a database gets its own clone (``CREATE DATABASE … TEMPLATE``), so tests
never see each other's rows and never mock the database.

Only fixtures live here; the helpers they are built from, and that tests
import, live in ``tests/support/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from refund_registry.cli.embedded import Endpoints
from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from refund_registry.storage.cache import EPOCH_KEY
from tests.support.api import Api, asgi_client
from tests.support.principals import MakePrincipal, register_principal
from tests.support.servers import (
    TEMPLATE,
    create_database,
    database_name,
    database_url,
    drop_database,
    embedded_servers,
    migrated_database,
    unique_name,
)


@pytest.fixture(scope="session")
def servers() -> Iterator[Endpoints]:
    with embedded_servers("rrt-") as running:
        yield running.endpoints


@pytest.fixture(scope="session")
async def template_db(servers: Endpoints) -> str:
    await migrated_database(servers.database_url, TEMPLATE)
    return TEMPLATE


@pytest.fixture
async def db_url(servers: Endpoints, template_db: str) -> AsyncIterator[str]:
    name = unique_name("t_")
    yield await create_database(servers.database_url, name, template=template_db)
    await drop_database(servers.database_url, name)


@pytest.fixture
async def redis_url(servers: Endpoints) -> str:
    client = aioredis.Redis.from_url(servers.redis_url)
    await client.flushall()
    # Every test gets an empty store that has not just restarted: its replay epoch
    # lies in the past, so a token signed early in a slow test is not refused as
    # possibly replayed. The tests of the epoch itself empty the store themselves.
    await client.set(EPOCH_KEY, "0")
    await client.aclose()
    return servers.redis_url


@pytest.fixture
def settings(servers: Endpoints, db_url: str, redis_url: str, tmp_path: Path) -> Settings:
    """The API's settings: it logs in as ``registry_api``, as in production.

    ``db_url`` (the superuser, the owner of the schema) stays for tests that
    set up or inspect rows behind the API's back; the API itself never holds it.
    """
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=database_url(servers.api_database_url, database_name(db_url)),
        owner_database_url=db_url,
        redis_url=redis_url,
        db_pool_min=1,
        db_pool_max=8,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = await Runtime.start(settings)
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(settings, runtime) as test_client:
        yield test_client


@pytest.fixture
def make_principal(runtime: Runtime) -> MakePrincipal:
    """Register a principal with a fresh Ed25519 key; return a signer for it."""

    async def make(role: str = "member", name: str | None = None) -> Signer:
        return await register_principal(runtime.pool, role, name)

    return make


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)
