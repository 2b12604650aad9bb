"""Migrations apply to a fresh database, are recorded, and refuse edits and absence."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from refund_registry.cli.embedded import Endpoints
from refund_registry.storage import migrate
from refund_registry.storage.queries import Q
from tests.support.servers import fresh_database


async def test_all_migrations_apply_to_a_fresh_database_once(servers: Endpoints) -> None:
    url = await fresh_database(servers.database_url, "m_")
    files = migrate.discover()
    applied = await migrate.apply(url)
    assert applied == [f"{m.version:04d}_{m.name}" for m in files]
    assert await migrate.apply(url) == []
    conn = await asyncpg.connect(url)
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    await conn.close()
    assert [(r["version"], r["checksum"]) for r in rows] == [(m.version, m.checksum) for m in files]


async def test_an_edited_applied_migration_is_refused(servers: Endpoints, tmp_path: Path) -> None:
    url = await fresh_database(servers.database_url, "m_")
    schema = tmp_path / "migrations"
    schema.mkdir()
    for entry in migrate.MIGRATIONS.iterdir():
        if entry.name.endswith(".sql"):
            (schema / entry.name).write_text(entry.read_text(encoding="utf-8"))
    await migrate.apply(url, schema)
    first = sorted(schema.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(migrate.MigrationError, match="edited after it was applied"):
        await migrate.apply(url, schema)


async def test_a_database_that_applied_an_earlier_comment_is_accepted(servers: Endpoints) -> None:
    url = await fresh_database(servers.database_url, "m_")
    await migrate.apply(url)
    conn = await asyncpg.connect(url)
    for version, former in migrate.FORMER_CHECKSUMS.items():
        await conn.execute(
            "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", version, min(former)
        )
    await conn.close()
    assert await migrate.apply(url) == []
    assert await migrate.pending(url) == []


async def test_a_former_checksum_is_accepted_only_for_its_own_migration() -> None:
    files = migrate.discover()
    for version, former in migrate.FORMER_CHECKSUMS.items():
        for migration in files:
            assert migration.matches(min(former)) == (migration.version == version)


async def test_a_gap_in_migration_numbers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError, match="0002"):
        migrate.discover(tmp_path)


def test_the_migrations_ship_inside_the_package() -> None:
    # Read as package resources, not from the source checkout, so that a wheel
    # installed without -e finds them (tests/integration/test_wheel_install.py).
    assert Path(str(migrate.MIGRATIONS)).parts[-3:] == ("refund_registry", "storage", "migrations")
    found = migrate.discover()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].name == "foundation"


@pytest.mark.parametrize("layout", ["empty", "missing", "no_numbered_files"])
def test_an_empty_migration_set_is_refused_with_a_clear_message(
    tmp_path: Path, layout: str
) -> None:
    source = tmp_path / "migrations"
    if layout != "missing":
        source.mkdir()
    if layout == "no_numbered_files":
        (source / "README.txt").write_text("not a migration")
        (source / "notes.sql").write_text("SELECT 1;")
    with pytest.raises(migrate.MigrationError, match=r"no migration files .* incomplete"):
        migrate.discover(source)


async def test_an_empty_migration_set_fails_before_touching_the_database(
    tmp_path: Path,
) -> None:
    # No server listens at this address: a connection attempt would raise an
    # OSError, so the MigrationError shows that nothing was attempted.
    unreachable = f"postgresql://nobody@/nowhere?host={tmp_path}"
    with pytest.raises(migrate.MigrationError, match="no migration files"):
        await migrate.apply(unreachable, tmp_path)


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
