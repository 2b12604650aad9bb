"""Migrations apply to a fresh database, are recorded, and refuse edits."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import asyncpg
import pytest

from refund_registry.embedded import Endpoints
from refund_registry.storage import migrate
from refund_registry.storage.queries import Q
from tests.conftest import database_url


async def _fresh_db(servers: Endpoints) -> str:
    name = f"m_{secrets.token_hex(5)}"
    conn = await asyncpg.connect(database_url(servers.database_url, "postgres"))
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    return database_url(servers.database_url, name)


async def test_all_migrations_apply_to_a_fresh_database_once(servers: Endpoints) -> None:
    url = await _fresh_db(servers)
    files = migrate.discover()
    applied = await migrate.apply(url)
    assert applied == [f"{m.version:04d}_{m.name}" for m in files]
    assert await migrate.apply(url) == []
    conn = await asyncpg.connect(url)
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    await conn.close()
    assert [(r["version"], r["checksum"]) for r in rows] == [(m.version, m.checksum) for m in files]


async def test_an_edited_applied_migration_is_refused(servers: Endpoints, tmp_path: Path) -> None:
    url = await _fresh_db(servers)
    schema = tmp_path / "schema"
    shutil.copytree(migrate.SCHEMA_DIR, schema)
    await migrate.apply(url, schema)
    first = sorted(schema.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(migrate.MigrationError, match="edited after it was applied"):
        await migrate.apply(url, schema)


async def test_a_gap_in_migration_numbers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError, match="0002"):
        migrate.discover(tmp_path)


async def test_every_named_query_prepares_against_the_schema(db_url: str) -> None:
    conn = await asyncpg.connect(db_url, server_settings={"role": "registry_app"})
    try:
        for name, sql in Q.items():
            try:
                await conn.prepare(sql)
            except asyncpg.PostgresError as exc:  # pragma: no cover - the failure message
                pytest.fail(f"query {name!r} does not prepare: {exc}")
    finally:
        await conn.close()
