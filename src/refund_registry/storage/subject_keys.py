"""Every stored subject key, for rotating the registry key.

Runs on a connection of the owner role (the one migrations use), in one
transaction the caller holds. Driver errors become domain errors here,
through ``storage.db.translating``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class Rewrapped:
    """How many rows of each table now hold re-wrapped keys."""

    subject_aggregates: int
    access_subjects: int
    reports: int
    appeals: int


@translating
async def connect(dsn: str) -> asyncpg.Connection:
    """A plain connection to ``dsn`` (no pool: rotation is a one-off)."""
    return await asyncpg.connect(dsn)


@translating
async def lock_tables(conn: Conn) -> None:
    """Hold every table that stores subject keys against writers until commit."""
    await conn.execute(Q["lock_subject_key_tables"])


@translating
async def report_key_versions(conn: Conn) -> list[int]:
    """The distinct keyring versions the reports are keyed with."""
    return [row["key_version"] for row in await conn.fetch(Q["report_key_versions"])]


@translating
async def stored_keys(conn: Conn) -> list[bytes]:
    """Every subject key stored in any table, once."""
    return [bytes(row["k"]) for row in await conn.fetch(Q["stored_subject_keys"])]


@translating
async def rewrap(conn: Conn, old: Sequence[bytes], new: Sequence[bytes]) -> Rewrapped:
    """Replace each stored key ``old[i]`` by ``new[i]`` in every table, in one statement."""
    row = await conn.fetchrow(Q["rewrap_subject_keys"], list(old), list(new))
    assert row is not None
    return Rewrapped(**row)


@translating
async def set_report_key_version(conn: Conn, version: int) -> None:
    await conn.execute(Q["set_report_key_version"], version)
