"""Forward-only migrations from the numbered ``.sql`` files shipped in this package.

The files live in ``refund_registry/storage/migrations/`` and are read as
package resources, so an installed wheel finds them as well as a source
checkout does. Each file is applied once, in its own transaction, under a
PostgreSQL advisory lock (so two processes starting together do not race), and
recorded with the SHA-256 of its text. A file that was edited after it was
applied is refused: the database would no longer match what the package says
it is. An empty migration set is refused too: it means the package was built
without its data files, and starting on an unmigrated database would only fail
later and less clearly.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Final

import asyncpg

log = logging.getLogger("refund_registry.migrate")

MIGRATIONS: Traversable = files("refund_registry.storage") / "migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5252_4D49  # "RRMI": the migration advisory lock


class MigrationError(RuntimeError):
    """The database and the migration files disagree, or there are no files; start-up must stop."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def matches(self, recorded: str) -> bool:
        """Whether a database that recorded ``recorded`` applied this very migration."""
        return recorded == self.checksum or recorded in FORMER_CHECKSUMS.get(self.version, ())


FORMER_CHECKSUMS: Final[Mapping[int, frozenset[str]]] = MappingProxyType(
    {
        # Only the first comment line changed (it named a document the package
        # does not ship); the statements are the same, so a database that
        # applied the earlier text has the same schema.
        4: frozenset({"afa61cfdba1f3d1d50ff943eefd35402463ab9c9d1e68ce8912f60f2b61c8150"}),
        5: frozenset({"fb1d704aea11589577bbbdace341509de48e84f30e6beecb48d58c1ac26ff400"}),
    }
)
"""Checksums of earlier texts of a migration that differ from the file in comments only.

An entry is added only for an edit that changes no statement; any other
edit is still refused.
"""


def discover(source: Traversable = MIGRATIONS) -> list[Migration]:
    """The migration files of ``source`` in order.

    ``source`` is a package resource folder or any path. A gap or a duplicate
    number is an error, and so is finding no migration at all.
    """
    entries = (
        sorted((e for e in source.iterdir() if e.is_file()), key=lambda e: e.name)
        if source.is_dir()
        else []
    )
    migrations: list[Migration] = []
    for entry in entries:
        match = _FILE.match(entry.name)
        if match is None:
            continue
        migrations.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    if not migrations:
        raise MigrationError(
            f"no migration files (NNNN_name.sql) found in {source}; the installed package "
            "is incomplete (built without its migrations?), so the schema cannot be created"
        )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration numbers must run 1, 2, 3…; found {migration.version:04d} "
                f"where {expected:04d} was expected"
            )
    return migrations


async def apply(dsn: str, source: Traversable = MIGRATIONS) -> list[str]:
    """Apply pending migrations; return the names of those applied now.

    The files are read before connecting, so a missing migration set fails
    without touching the database.
    """
    migrations = discover(source)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            return await _apply_locked(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def pending(dsn: str, source: Traversable = MIGRATIONS) -> list[str] | None:
    """The migrations not applied yet, read without changing anything.

    For login roles that may not change the schema (the API's, the key
    service's): ``None`` when this role cannot tell (no migrations table yet,
    no right to read it, or a database that disagrees with the files, which
    :func:`apply` then explains).
    """
    migrations = discover(source)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    except (asyncpg.UndefinedTableError, asyncpg.InsufficientPrivilegeError):
        return None
    finally:
        await conn.close()
    applied = {row["version"]: row["checksum"] for row in rows}
    files = {m.version: m for m in migrations}
    if any(
        version not in files or not files[version].matches(checksum)
        for version, checksum in applied.items()
    ):
        return None
    return [f"{m.version:04d}_{m.name}" for m in migrations if m.version not in applied]


async def _apply_locked(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
    applied = {row["version"]: row for row in rows}
    known = {m.version for m in migrations}
    unknown = sorted(set(applied) - known)
    if unknown:
        raise MigrationError(
            f"the database has migrations this code does not know: {unknown}; "
            "is an older release starting against a newer database?"
        )
    done: list[str] = []
    for migration in migrations:
        row = applied.get(migration.version)
        label = f"{migration.version:04d}_{migration.name}"
        if row is not None:
            if not migration.matches(row["checksum"]):
                raise MigrationError(
                    f"migration {label} was edited after it was applied "
                    f"(recorded sha256 {row['checksum'][:12]}…, file {migration.checksum[:12]}…); "
                    "migrations are forward-only: add a new file instead"
                )
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        log.info("migration applied", extra={"migration": label})
        done.append(label)
    return done
