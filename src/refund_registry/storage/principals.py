"""Principals and their keys in PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from refund_registry.storage.db import translated
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class KeyHolder:
    """The principal a registered key belongs to (a key id names one key for good)."""

    principal_id: str
    name: str
    role: str
    status: str
    key_revoked: bool


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    alg: str
    created_at: datetime
    revoked_at: datetime | None


async def add_principal(
    pool: asyncpg.Pool,
    *,
    principal_id: str,
    name: str,
    role: str,
    kid: str,
    alg: str,
    pem: str,
    org_id: str | None = None,
) -> None:
    """Insert a principal and its first key; ``org_id`` is created when new.

    Without ``org_id`` the principal gets an organisation of its own, named
    by its id (the table's trigger).
    """
    async with translated(), pool.acquire() as conn, conn.transaction():
        if org_id is not None:
            await conn.execute(Q["ensure_organisation"], org_id)
        await conn.execute(Q["insert_principal"], principal_id, name, role, org_id)
        await conn.execute(Q["insert_key"], kid, principal_id, alg, pem)


async def add_key(pool: asyncpg.Pool, *, principal_id: str, kid: str, alg: str, pem: str) -> None:
    async with translated():
        await pool.execute(Q["insert_key"], kid, principal_id, alg, pem)


async def get_principal(pool: asyncpg.Pool, principal_id: str) -> dict[str, Any] | None:
    async with translated():
        row = await pool.fetchrow(Q["get_principal"], principal_id)
    return dict(row) if row else None


async def get_key(pool: asyncpg.Pool, kid: str) -> dict[str, Any] | None:
    async with translated():
        row = await pool.fetchrow(Q["get_key"], kid)
    return dict(row) if row else None


async def list_principals(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    async with translated():
        rows = await pool.fetch(Q["list_principals"])
    return [dict(r) for r in rows]


async def set_status(pool: asyncpg.Pool, principal_id: str, status: str) -> bool:
    async with translated():
        row = await pool.fetchrow(Q["set_principal_status"], principal_id, status)
    return row is not None


async def revoke_key(pool: asyncpg.Pool, kid: str) -> str | None:
    """Revoke one key; return its principal, or None if unknown or already revoked."""
    async with translated():
        row = await pool.fetchrow(Q["revoke_key"], kid)
    return str(row["principal_id"]) if row else None


async def key_holder(pool: asyncpg.Pool, kid: str) -> KeyHolder | None:
    """Who holds the key ``kid``, revoked or not; None if it was never registered."""
    async with translated():
        row = await pool.fetchrow(Q["key_holder"], kid)
    if row is None:
        return None
    return KeyHolder(
        principal_id=row["principal_id"],
        name=row["name"],
        role=row["role"],
        status=row["status"],
        key_revoked=row["revoked_at"] is not None,
    )


async def get_principal_detail(pool: asyncpg.Pool, principal_id: str) -> dict[str, Any] | None:
    async with translated():
        row = await pool.fetchrow(Q["get_principal_detail"], principal_id)
    return dict(row) if row else None


async def list_keys(pool: asyncpg.Pool, principal_id: str) -> list[KeyRecord]:
    """Every key of a principal, revoked ones included, oldest first."""
    async with translated():
        rows = await pool.fetch(Q["list_principal_keys"], principal_id)
    return [KeyRecord(r["kid"], r["alg"], r["created_at"], r["revoked_at"]) for r in rows]
