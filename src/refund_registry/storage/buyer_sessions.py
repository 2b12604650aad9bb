"""Buyer sign-in in PostgreSQL: pending one-time codes, sessions, used hand-off tokens.

No function here receives a phone number or an e-mail address: codes are kept
under the subject key of the identifier they were sent to, as a keyed hash;
sessions under the SHA-256 of their bearer value. Driver errors become domain
errors through ``storage.db.translating``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class StoredCode:
    subject_key: bytes
    digest: bytes
    issued_at: datetime
    tries: int


@dataclass(frozen=True, slots=True)
class StoredSession:
    id: str
    subject_keys: tuple[bytes, ...]
    via_member: str | None
    created_at: datetime
    last_seen_at: datetime


# -- codes ------------------------------------------------------------------------------


@translating
async def code_issued_at(conn: Conn, subject_key: bytes) -> datetime | None:
    """When the pending code for this identifier was sent; None when there is none."""
    value: datetime | None = await conn.fetchval(Q["buyer_code_issued_at"], subject_key)
    return value


@translating
async def put_code(
    conn: Conn,
    subject_key: bytes,
    digest: bytes,
    *,
    issued_at: datetime,
    expires_at: datetime,
    replaceable_before: datetime,
) -> bool:
    """Store a new code (replacing the pending one); False if the pending one is too recent.

    The pacing check and the write are one statement, so two sends racing
    for one identifier cannot both go out.
    """
    row = await conn.fetchrow(
        Q["buyer_code_put"], subject_key, digest, issued_at, expires_at, replaceable_before
    )
    return row is not None


@translating
async def lock_code(conn: Conn, subject_key: bytes) -> StoredCode | None:
    """The pending code of this identifier, locked until the transaction ends."""
    row = await conn.fetchrow(Q["buyer_code_lock"], subject_key)
    if row is None:
        return None
    return StoredCode(row["subject_key"], row["digest"], row["issued_at"], row["tries"])


@translating
async def set_tries(conn: Conn, subject_key: bytes, tries: int) -> None:
    await conn.execute(Q["buyer_code_set_tries"], subject_key, tries)


@translating
async def delete_code(conn: Conn, subject_key: bytes) -> None:
    await conn.execute(Q["buyer_code_delete"], subject_key)


# -- sessions ---------------------------------------------------------------------------


@translating
async def insert_session(
    conn: Conn,
    *,
    session_id: str,
    digest: bytes,
    subject_keys: Sequence[bytes],
    via_member: str | None,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    """``expires_at`` is the absolute end; the idle end follows from ``last_seen_at``."""
    await conn.execute(
        Q["buyer_session_insert"],
        session_id,
        digest,
        list(subject_keys),
        via_member,
        created_at,
        expires_at,
    )


@translating
async def session_by_digest(conn: Conn, digest: bytes) -> StoredSession | None:
    row = await conn.fetchrow(Q["buyer_session_by_digest"], digest)
    if row is None:
        return None
    return StoredSession(
        id=row["id"],
        subject_keys=tuple(row["subject_keys"]),
        via_member=row["via_member"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
    )


@translating
async def touch_session(conn: Conn, session_id: str, at: datetime) -> None:
    """Record a request at ``at``; never moves ``last_seen_at`` backwards."""
    await conn.execute(Q["buyer_session_touch"], session_id, at)


@translating
async def delete_session(conn: Conn, digest: bytes) -> None:
    await conn.execute(Q["buyer_session_delete"], digest)


@translating
async def delete_session_id(conn: Conn, session_id: str) -> None:
    await conn.execute(Q["buyer_session_delete_id"], session_id)


# -- hand-offs --------------------------------------------------------------------------


@translating
async def claim_handoff(
    conn: Conn, issuer: str, jti: str, *, used_at: datetime, keep_until: datetime
) -> bool:
    """Mark a subject token as exchanged; False if it was exchanged before."""
    row = await conn.fetchrow(Q["buyer_handoff_claim"], issuer, jti, used_at, keep_until)
    return row is not None


@translating
async def last_contact(
    conn: Conn, member_id: str, subject_keys: Sequence[bytes], since: datetime
) -> datetime | None:
    """The latest report filed or risk query made by ``member_id`` on these subjects."""
    value: datetime | None = await conn.fetchval(
        Q["buyer_last_contact"], member_id, list(subject_keys), since
    )
    return value


# -- housekeeping -----------------------------------------------------------------------


@translating
async def purge(
    conn: Conn, *, now: datetime, idle_before: datetime, handoffs_before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` expired rows of each kind; return how many went in all."""
    total = 0
    for status in (
        await conn.execute(Q["buyer_purge_codes"], now, limit),
        await conn.execute(Q["buyer_purge_sessions"], now, idle_before, limit),
        await conn.execute(Q["buyer_purge_handoffs"], handoffs_before, limit),
    ):
        total += int(status.split()[-1])
    return total
