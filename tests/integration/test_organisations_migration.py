"""The organisations migration puts every existing principal into an organisation of its own."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from refund_registry.cli.embedded import Endpoints
from refund_registry.storage import migrate
from tests.support.servers import fresh_database


async def test_existing_principals_each_get_their_own_organisation(
    servers: Endpoints, tmp_path: Path
) -> None:
    url = await fresh_database(servers.database_url, "m_")
    files = [e for e in migrate.MIGRATIONS.iterdir() if e.name.endswith(".sql")]
    organisations = next(e for e in files if e.name.endswith("_organisations.sql"))
    before = tmp_path / "before"
    before.mkdir()
    for entry in files:
        if entry.name < organisations.name:
            (before / entry.name).write_text(entry.read_text(encoding="utf-8"))
    await migrate.apply(url, before)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO principals (id, name, role) VALUES "
            "('mbr_aaaaaaaaaaaaaaaa', 'Shop A', 'member'), "
            "('mbr_bbbbbbbbbbbbbbbb', 'Shop B', 'member')"
        )
        await migrate.apply(url)
        rows = await conn.fetch("SELECT id, org_id FROM principals ORDER BY id")
        orgs = await conn.fetch("SELECT id, evaluations_per_day FROM organisations ORDER BY id")
    finally:
        await conn.close()
    assert [(r["id"], r["org_id"]) for r in rows] == [
        ("mbr_aaaaaaaaaaaaaaaa", "mbr_aaaaaaaaaaaaaaaa"),
        ("mbr_bbbbbbbbbbbbbbbb", "mbr_bbbbbbbbbbbbbbbb"),
    ]
    # Their own organisations, with the deployment's default quotas.
    assert [(o["id"], o["evaluations_per_day"]) for o in orgs] == [
        ("mbr_aaaaaaaaaaaaaaaa", None),
        ("mbr_bbbbbbbbbbbbbbbb", None),
    ]
