"""The ledger's events: appended in the transaction of the change they record,
read by the member feed and by an appeal's history.

Events never carry a subject key, so they outlive the reports' personal data.
Driver errors become domain errors here, through ``storage.db.translating``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import copy_records, translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class Event:
    """An event to append."""

    at: datetime
    type: str
    member_id: str | None
    report_id: str | None
    appeal_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """An event on a member's feed; ``txid`` and ``id`` make its cursor."""

    id: int
    txid: str
    at: datetime
    type: str
    report_id: str | None
    appeal_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    id: int
    at: datetime
    type: str
    data: dict[str, Any]


@translating
async def append(conn: Conn, event: Event) -> None:
    """Append one event, in the caller's transaction."""
    await conn.execute(
        Q["insert_event"],
        event.at,
        event.type,
        event.member_id,
        event.report_id,
        event.appeal_id,
        event.data,
    )


@translating
async def append_many(conn: Conn, events: Sequence[Event]) -> None:
    """Append events in order, in the caller's transaction."""
    if events:
        await conn.executemany(
            Q["insert_event"],
            [(e.at, e.type, e.member_id, e.report_id, e.appeal_id, e.data) for e in events],
        )


@translating
async def copy_filed(
    conn: Conn, at: datetime, member_id: str, filed: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """COPY one ``report.filed`` event per ``(report id, data)``: a bulk upload's events."""
    await copy_records(
        conn,
        "events",
        records=[(at, "report.filed", member_id, report_id, data) for report_id, data in filed],
        columns=["at", "type", "member_id", "report_id", "data"],
    )


@translating
async def member_feed(
    conn: Conn, member_id: str, txid: int, event_id: int, limit: int
) -> list[FeedEvent]:
    """The member's events after cursor ``(txid, event_id)``, oldest first, at most ``limit``.

    Only transactions older than every running one are shown, so an event
    that commits late always sorts after every cursor already handed out.
    """
    rows = await conn.fetch(Q["member_feed"], member_id, txid, event_id, limit)
    return [FeedEvent(**row) for row in rows]


@translating
async def appeal_history(
    conn: Conn, appeal_id: str, report_id: str, since: datetime
) -> list[HistoryEvent]:
    """The appeal's own events, and what the ledger did to its report since ``since``."""
    rows = await conn.fetch(Q["appeal_history"], appeal_id, report_id, since)
    return [HistoryEvent(**row) for row in rows]
