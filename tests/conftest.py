"""Shared fixtures: real PostgreSQL and Valkey from the embedded wheels.

One pair of servers runs for the whole session in a temporary data folder.
The schema is migrated once into a template database, and every test that
needs a database gets its own clone (``CREATE DATABASE … TEMPLATE``), so tests
never see each other's rows and never mock the database.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import asyncpg
import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.cli.embedded import EmbeddedServers, Endpoints
from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from refund_registry.services import principals
from refund_registry.storage import migrate

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
TEMPLATE = "rr_template"


def database_url(base: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``base`` (a unix-socket URL)."""
    parsed = urlparse(base)
    host = parse_qs(parsed.query)["host"][0]
    return f"postgresql://postgres@/{name}?host={host}"


@pytest.fixture(scope="session")
def servers() -> Iterator[Endpoints]:
    root = Path(tempfile.mkdtemp(prefix="rrt-", dir="/tmp"))
    embedded = EmbeddedServers(root)
    endpoints = embedded.attach()
    try:
        yield endpoints
    finally:
        embedded.release()
        shutil.rmtree(root, ignore_errors=True)


async def _admin(endpoints: Endpoints) -> asyncpg.Connection:
    return await asyncpg.connect(database_url(endpoints.database_url, "postgres"))


@pytest.fixture(scope="session")
async def template_db(servers: Endpoints) -> str:
    conn = await _admin(servers)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    await migrate.apply(database_url(servers.database_url, TEMPLATE))
    return TEMPLATE


@pytest.fixture
async def db_url(servers: Endpoints, template_db: str) -> AsyncIterator[str]:
    name = f"t_{secrets.token_hex(6)}"
    conn = await _admin(servers)
    try:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template_db}")
    finally:
        await conn.close()
    yield database_url(servers.database_url, name)
    conn = await _admin(servers)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
async def redis_url(servers: Endpoints) -> str:
    client = aioredis.Redis.from_url(servers.redis_url)
    await client.flushall()
    await client.aclose()
    return servers.redis_url


@pytest.fixture
def settings(db_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database_url=db_url,
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


def asgi_client(settings: Settings, runtime: Runtime) -> httpx.AsyncClient:
    """An HTTP client calling the app in this event loop (the runtime's loop)."""
    app = create_app(settings, runtime_override=runtime)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry")


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A runtime of its own for ``settings`` (another process, in effect) and a client to it."""
    rt = await Runtime.start(settings)
    try:
        async with asgi_client(settings, rt) as test_client:
            yield test_client
    finally:
        await rt.close()


@pytest.fixture
async def client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(settings, runtime) as test_client:
        yield test_client


MakePrincipal = Callable[..., Awaitable[Signer]]


@pytest.fixture
def make_principal(runtime: Runtime) -> MakePrincipal:
    """Register a principal with a fresh Ed25519 key; return a signer for it."""

    async def make(role: str = "member", name: str | None = None) -> Signer:
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        added = await principals.add_principal(
            runtime.pool, name=name or f"{role} {secrets.token_hex(3)}", role=role, pem=pem
        )
        return Signer(principal_id=added["id"], kid=added["kid"], private_key=key)

    return make


class Api:
    """Sends signed requests through the test client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(
        self,
        signer: Signer | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = raw if raw is not None else (b"" if body is None else msgspec.json.encode(body))
        sent = dict(headers or {})
        if signer is not None and "Authorization" not in sent:
            sent.update(signer.headers(method, path, data))
        if data:
            sent.setdefault("Content-Type", "application/json")
        return await self.client.request(method, path, content=data, headers=sent)


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status (and code)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status
    assert {"type", "title", "detail", "code"} <= set(doc)
    if code is not None:
        assert doc["code"] == code, doc
    return doc
