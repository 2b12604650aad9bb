"""Looks at a buyer's record as the access log records them, read per subject.

A buyer sees who queried them and which member read their record through a
hand-off (their own reads after a direct sign-in are not listed); members that
queried a buyer are told when a report they may have relied on is overturned.
Driver errors become domain errors here, through ``storage.db.translating``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class Inquiry:
    """One look by a member: ``how`` is ``query`` (a risk query) or ``via_member``
    (a read of the record in a session the member handed over)."""

    at: datetime
    purpose: str | None
    member_name: str | None
    how: str


@dataclass(frozen=True, slots=True)
class Querier:
    """A member that queried some subjects, with its own query ids."""

    member_id: str
    query_ids: list[str]
    last_queried_at: datetime


@translating
async def of_subjects(conn: Conn, keys: Sequence[bytes], since: datetime) -> list[Inquiry]:
    """Risk queries and record reads naming any of these subjects since ``since``,
    newest first; one per look even when it named several of them."""
    rows = await conn.fetch(Q["subject_inquiries"], list(keys), since)
    return [Inquiry(**row) for row in rows]


@translating
async def queriers(
    conn: Conn, keys: Sequence[bytes], after: datetime, until: datetime
) -> list[Querier]:
    """Members whose risk queries named any of these subjects in ``(after, until]``."""
    rows = await conn.fetch(Q["queriers_of_subjects"], list(keys), after, until)
    return [
        Querier(row["member_id"], list(row["query_ids"]), row["last_queried_at"]) for row in rows
    ]
