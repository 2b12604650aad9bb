"""Webhook endpoints and their delivery log in PostgreSQL.

Secrets come in and go out sealed (``domain.webhooks.seal``); nothing here
sees a plain secret. The delivery worker's writes are compare-and-set on the
endpoint's lease, so a worker whose lease was lost (or whose endpoint was
deleted or disabled meanwhile) changes nothing. Driver errors become domain
errors through ``storage.db.translating``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.events import FeedEvent
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as its member sees it (no secret)."""

    id: str
    url: str
    status: str
    created_at: datetime
    rotated_at: datetime | None
    previous_until: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    cursor_txid: str
    cursor_id: int
    attempt: int
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    """An endpoint a worker holds under lease, with what it needs to deliver."""

    id: str
    member_id: str
    url: str
    secret_sealed: bytes
    previous_sealed: bytes | None
    previous_until: datetime | None
    cursor_txid: str
    cursor_id: int
    attempt: int


@dataclass(frozen=True, slots=True)
class Sealed:
    secret_sealed: bytes
    previous_sealed: bytes | None
    previous_until: datetime | None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One delivery attempt, as it is logged."""

    webhook_id: str
    event_cursor: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    outcome: str
    next_attempt_at: datetime | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class LoggedAttempt:
    id: int
    event_cursor: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    outcome: str
    next_attempt_at: datetime | None
    duration_ms: int


# -- registration -------------------------------------------------------------------------


@translating
async def lock_member(conn: Conn, member_id: str) -> None:
    """Hold the member's registration lock until the caller's transaction ends."""
    await conn.execute(Q["webhook_lock_member"], member_id)


@translating
async def count(conn: Conn, member_id: str) -> int:
    value: int = await conn.fetchval(Q["webhook_count"], member_id)
    return value


@translating
async def feed_end(conn: Conn, member_id: str) -> tuple[int, int]:
    """``(txid, id)`` of the member's last stable event; ``(0, 0)`` without one."""
    row = await conn.fetchrow(Q["webhook_feed_end"], member_id)
    return (0, 0) if row is None else (int(row["txid"]), int(row["id"]))


@translating
async def insert(
    conn: Conn,
    *,
    webhook_id: str,
    member_id: str,
    url: str,
    secret_sealed: bytes,
    at: datetime,
    start: tuple[int, int],
) -> None:
    """A new active endpoint whose first delivery is the event after ``start``."""
    await conn.execute(
        Q["webhook_insert"], webhook_id, member_id, url, secret_sealed, at, start[0], start[1]
    )


@translating
async def list_for(conn: Conn, member_id: str) -> list[Endpoint]:
    return [Endpoint(**row) for row in await conn.fetch(Q["webhook_list"], member_id)]


@translating
async def get(conn: Conn, webhook_id: str, member_id: str) -> Endpoint | None:
    """The member's endpoint; None when there is none by this id, or it is another's."""
    row = await conn.fetchrow(Q["webhook_get"], webhook_id, member_id)
    return None if row is None else Endpoint(**row)


@translating
async def delete(conn: Conn, webhook_id: str, member_id: str) -> bool:
    return await conn.fetchval(Q["webhook_delete"], webhook_id, member_id) is not None


@translating
async def rotate(
    conn: Conn,
    webhook_id: str,
    member_id: str,
    secret_sealed: bytes,
    at: datetime,
    previous_until: datetime,
) -> bool:
    """Replace the secret; the old one keeps signing until ``previous_until``."""
    found = await conn.fetchval(
        Q["webhook_rotate"], webhook_id, member_id, secret_sealed, at, previous_until
    )
    return found is not None


@translating
async def enable(conn: Conn, webhook_id: str, member_id: str, at: datetime) -> bool:
    """Resume a disabled endpoint at ``at``; False when it was not disabled (or not found)."""
    return await conn.fetchval(Q["webhook_enable"], webhook_id, member_id, at) is not None


# -- deliveries ---------------------------------------------------------------------------


@translating
async def claim_due(
    conn: Conn, now: datetime, limit: int, lease_token: str, lease_until: datetime
) -> list[Claimed]:
    """Lease up to ``limit`` due endpoints that have an event waiting (SKIP LOCKED)."""
    rows = await conn.fetch(Q["webhook_claim_due"], now, limit, lease_until, lease_token)
    return [Claimed(**row) for row in rows]


@translating
async def pending_events(
    conn: Conn, member_id: str, after: tuple[int, int], limit: int
) -> list[FeedEvent]:
    """The member's stable events after ``after``, oldest first."""
    rows = await conn.fetch(Q["webhook_pending_events"], member_id, after[0], after[1], limit)
    return [FeedEvent(**row) for row in rows]


@translating
async def secrets_of(conn: Conn, webhook_id: str, lease_token: str) -> Sealed | None:
    """The endpoint's sealed secrets now; None when the lease is no longer ours."""
    row = await conn.fetchrow(Q["webhook_secrets"], webhook_id, lease_token)
    return None if row is None else Sealed(**row)


@translating
async def mark_delivered(
    conn: Conn,
    webhook_id: str,
    lease_token: str,
    event: tuple[int, int],
    next_attempt_at: datetime,
    lease_until: datetime,
) -> bool:
    """Move past ``event`` and renew the lease; False when the lease is no longer ours."""
    found = await conn.fetchval(
        Q["webhook_delivered"],
        webhook_id,
        lease_token,
        event[0],
        event[1],
        next_attempt_at,
        lease_until,
    )
    return found is not None


@translating
async def retry_later(
    conn: Conn, webhook_id: str, lease_token: str, attempt: int, at: datetime
) -> bool:
    found = await conn.fetchval(Q["webhook_retry_later"], webhook_id, lease_token, attempt, at)
    return found is not None


@translating
async def disable(
    conn: Conn, webhook_id: str, lease_token: str, attempt: int, at: datetime, reason: str
) -> bool:
    found = await conn.fetchval(Q["webhook_disable"], webhook_id, lease_token, attempt, at, reason)
    return found is not None


@translating
async def release(conn: Conn, webhook_id: str, lease_token: str) -> None:
    await conn.execute(Q["webhook_release"], webhook_id, lease_token)


@translating
async def log_attempt(conn: Conn, entry: LogEntry) -> None:
    await conn.execute(
        Q["webhook_log_insert"],
        entry.webhook_id,
        entry.event_cursor,
        entry.attempt,
        entry.at,
        entry.status_code,
        entry.error,
        entry.outcome,
        entry.next_attempt_at,
        entry.duration_ms,
    )


@translating
async def log_page(conn: Conn, webhook_id: str, after: int, limit: int) -> list[LoggedAttempt]:
    rows = await conn.fetch(Q["webhook_log_page"], webhook_id, after, limit)
    return [LoggedAttempt(**row) for row in rows]


@translating
async def prune_log(conn: Conn, before: datetime) -> int:
    """Delete log entries older than ``before``; return how many."""
    status: str = await conn.execute(Q["webhook_log_prune"], before)
    return int(status.rsplit(" ", 1)[-1])
