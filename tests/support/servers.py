"""Embedded PostgreSQL and Valkey in a temporary folder, and databases on them.

Shared by ``tests/conftest.py`` (one pair of servers per session, a migrated
template database cloned per test) and the benchmarks (one pair per run, one
migrated database). Nothing here mocks a server: every database is real.

Imports of the service's code are deferred to the call: ``bench/bench_auth.py
--src DIR`` must be able to put another source tree first on the path after
importing this module.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlparse

if TYPE_CHECKING:
    import asyncpg

    from refund_registry.cli.embedded import Endpoints

# The embedded servers warn when XDG_RUNTIME_DIR is unset; nothing here needs it.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

TEMPLATE = "rr_template"


@dataclass(frozen=True)
class TemporaryServers:
    """Embedded servers running in ``root``, a folder removed when they stop."""

    root: Path
    endpoints: Endpoints


@contextlib.contextmanager
def embedded_servers(prefix: str = "rrt-") -> Iterator[TemporaryServers]:
    """Start PostgreSQL and Valkey in a new folder under /tmp; stop both and remove it.

    Under /tmp itself: the embedded PostgreSQL may run as another user, who
    cannot enter pytest's private temporary folders.
    """
    from refund_registry.cli.embedded import EmbeddedServers

    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    embedded = EmbeddedServers(root)
    try:
        yield TemporaryServers(root, embedded.attach())
    finally:
        embedded.release()
        shutil.rmtree(root, ignore_errors=True)


def database_url(base: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``base``, with the login of ``base``.

    ``base`` is a unix-socket URL; the embedded cluster asks every login for its
    password (scram-sha-256), so the user and password of ``base`` are kept.
    """
    parsed = urlparse(base)
    host = parse_qs(parsed.query)["host"][0]
    login = parsed.netloc.rpartition("@")[0] or "postgres"
    return f"postgresql://{login}@/{name}?host={host}"


def database_name(url: str) -> str:
    """The database a URL names."""
    return urlparse(url).path.lstrip("/")


def unique_name(prefix: str) -> str:
    """A database name no other test or run uses (``prefix`` + 10 hex digits)."""
    return f"{prefix}{secrets.token_hex(5)}"


async def admin_connection(base: str) -> asyncpg.Connection:
    """A superuser connection to the ``postgres`` database of the server of ``base``."""
    import asyncpg

    return await asyncpg.connect(database_url(base, "postgres"))


async def create_database(
    base: str, name: str, *, template: str | None = None, replace: bool = False
) -> str:
    """Create database ``name`` (a clone of ``template``, if given); return its URL.

    With ``replace``, a database of that name is dropped first, connections and all.
    """
    conn = await admin_connection(base)
    try:
        if replace:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        clone = f" TEMPLATE {template}" if template else ""
        await conn.execute(f"CREATE DATABASE {name}{clone}")
    finally:
        await conn.close()
    return database_url(base, name)


async def fresh_database(base: str, prefix: str = "t_", *, template: str | None = None) -> str:
    """A new, uniquely named database (empty, or a clone of ``template``); its URL."""
    return await create_database(base, unique_name(prefix), template=template)


async def drop_database(base: str, name: str) -> None:
    """Drop database ``name`` if it exists, ending whatever sessions still use it."""
    conn = await admin_connection(base)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def migrated_database(base: str, name: str, migrations: Traversable | None = None) -> str:
    """(Re)create database ``name`` with every migration applied; return its URL.

    ``migrations`` is the folder to apply (default: the installed package's);
    a bench running a patched copy of ``src/`` passes this checkout's.
    """
    from refund_registry.storage import migrate

    url = await create_database(base, name, replace=True)
    if migrations is None:
        await migrate.apply(url)
    else:
        await migrate.apply(url, migrations)
    return url
