"""Staff sign-in in PostgreSQL: one-time links, console sessions, identity-provider
subjects and OpenID Connect sign-ins in progress.

Links and sessions are kept under the SHA-256 of their bearer value only.
Driver errors become domain errors through ``storage.db.translating``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class StaffPrincipal:
    id: str
    name: str
    role: str
    status: str


@dataclass(frozen=True, slots=True)
class StoredStaffSession:
    id: str
    principal: StaffPrincipal
    method: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class PendingLogin:
    binding: bytes
    nonce: str
    code_verifier: str
    expires_at: datetime


@translating
async def principal(conn: Conn, principal_id: str) -> StaffPrincipal | None:
    row = await conn.fetchrow(Q["staff_principal"], principal_id)
    if row is None:
        return None
    return StaffPrincipal(row["id"], row["name"], row["role"], row["status"])


# -- links ------------------------------------------------------------------------------


@translating
async def insert_link(
    conn: Conn, digest: bytes, principal_id: str, *, issued_at: datetime, expires_at: datetime
) -> None:
    await conn.execute(Q["staff_link_insert"], digest, principal_id, issued_at, expires_at)


@translating
async def use_link(conn: Conn, digest: bytes, at: datetime) -> str | None:
    """Mark the link used and return its principal; None if unknown, used or expired.

    One statement finds and marks it, so two browsers racing on one link
    cannot both get a session.
    """
    row = await conn.fetchrow(Q["staff_link_use"], digest, at)
    return None if row is None else str(row["principal_id"])


# -- sessions ---------------------------------------------------------------------------


@translating
async def insert_session(
    conn: Conn,
    *,
    session_id: str,
    digest: bytes,
    principal_id: str,
    method: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """``expires_at`` is the absolute end; the idle end follows from ``last_seen_at``."""
    await conn.execute(
        Q["staff_session_insert"], session_id, digest, principal_id, method, created_at, expires_at
    )


@translating
async def session_by_digest(conn: Conn, digest: bytes) -> StoredStaffSession | None:
    """The session with its principal as it is now (role and status read afresh)."""
    row = await conn.fetchrow(Q["staff_session_by_digest"], digest)
    if row is None:
        return None
    return StoredStaffSession(
        id=row["id"],
        principal=StaffPrincipal(row["principal_id"], row["name"], row["role"], row["status"]),
        method=row["method"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
    )


@translating
async def touch_session(conn: Conn, session_id: str, at: datetime) -> None:
    await conn.execute(Q["staff_session_touch"], session_id, at)


@translating
async def delete_session(conn: Conn, digest: bytes) -> None:
    await conn.execute(Q["staff_session_delete"], digest)


@translating
async def delete_session_id(conn: Conn, session_id: str) -> None:
    await conn.execute(Q["staff_session_delete_id"], session_id)


# -- identity provider ------------------------------------------------------------------


@translating
async def map_subject(conn: Conn, issuer: str, subject: str, principal_id: str) -> None:
    await conn.execute(Q["staff_oidc_map"], issuer, subject, principal_id)


@translating
async def unmap_subject(conn: Conn, issuer: str, subject: str) -> str | None:
    value: str | None = await conn.fetchval(Q["staff_oidc_unmap"], issuer, subject)
    return value


@translating
async def principal_of_subject(conn: Conn, issuer: str, subject: str) -> str | None:
    value: str | None = await conn.fetchval(Q["staff_oidc_principal"], issuer, subject)
    return value


@translating
async def insert_login(
    conn: Conn,
    *,
    state: str,
    binding: bytes,
    nonce: str,
    code_verifier: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        Q["staff_oidc_login_insert"], state, binding, nonce, code_verifier, created_at, expires_at
    )


@translating
async def take_login(conn: Conn, state: str) -> PendingLogin | None:
    """The pending sign-in of ``state``, deleted as it is read (single use)."""
    row = await conn.fetchrow(Q["staff_oidc_login_take"], state)
    if row is None:
        return None
    return PendingLogin(row["binding"], row["nonce"], row["code_verifier"], row["expires_at"])


# -- housekeeping -----------------------------------------------------------------------


@translating
async def purge(conn: Conn, *, now: datetime, idle_before: datetime, limit: int) -> int:
    """Delete up to ``limit`` expired rows of each kind; return how many went in all."""
    total = 0
    for status in (
        await conn.execute(Q["staff_link_purge"], now, limit),
        await conn.execute(Q["staff_session_purge"], now, idle_before, limit),
        await conn.execute(Q["staff_oidc_login_purge"], now, limit),
    ):
        total += int(status.split()[-1])
    return total
