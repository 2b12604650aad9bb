"""The member event feed's cursors and page bounds.

A cursor is ``<txid>-<event id>``: events are ordered by the transaction that
wrote them, then by id (see ``storage/sql/events.sql``, ``member_feed``).
"""

from __future__ import annotations

import re

from refund_registry.errors import InvalidInput

MAX_PAGE = 1000
_DIGITS = re.compile(r"[0-9]{1,20}")  # ASCII only: str.isdigit accepts '²'


def parse_cursor(after: str) -> tuple[int, int]:
    """``(txid, event id)`` of a cursor from an earlier page; ``(0, 0)`` for none."""
    if not after:
        return 0, 0
    txid, sep, event_id = after.partition("-")
    if not sep or not _DIGITS.fullmatch(txid) or not _DIGITS.fullmatch(event_id):
        raise InvalidInput("'after' must be a cursor from an earlier page", code="events.cursor")
    return int(txid), int(event_id)


def cursor(txid: int | str, event_id: int) -> str:
    return f"{txid}-{event_id}"


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}", code="events.limit")
