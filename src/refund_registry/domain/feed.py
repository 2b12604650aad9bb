"""The member event feed's cursors, page bounds and event descriptions.

A cursor is ``<txid>-<event id>``: events are ordered by the transaction that
wrote them, then by id (see ``storage/sql/events.sql``, ``member_feed``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

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


# -- descriptions ---------------------------------------------------------------------------

DESCRIPTION: Final[Mapping[str, str]] = MappingProxyType(
    {
        "report.filed": "Report %(report_id)s was filed (case reference %(case_reference)s).",
        "report.retracted": "Report %(report_id)s was retracted; it no longer counts.",
        "report.expired": "Report %(report_id)s reached the end of its retention period "
        "and no longer counts.",
        "report.disputed": "The buyer appealed against report %(report_id)s; "
        "it counts as disputed while the appeal is open.",
        "report.overturned": "Report %(report_id)s was overturned on appeal; it no longer counts.",
        "report.reinstated": "Report %(report_id)s counts again: the appeal against it "
        "ended without overturning it.",
        "report.overturned_after_your_query": "Report %(report_id)s, which stood when you "
        "queried this buyer, has since been overturned on appeal.",
        "appeal.opened": "The buyer opened appeal %(appeal_id)s against report %(report_id)s.",
        "appeal.answered": "The reporting platform answered appeal %(appeal_id)s "
        "on report %(report_id)s.",
        "appeal.decided": "An adjudicator decided appeal %(appeal_id)s on report %(report_id)s.",
        "appeal.withdrawn": "The buyer withdrew appeal %(appeal_id)s on report %(report_id)s.",
        "appeal.expired": "A deadline of appeal %(appeal_id)s on report %(report_id)s passed "
        "with nothing done; the report is overturned.",
        "appeal.closed": "Appeal %(appeal_id)s was closed: report %(report_id)s was "
        "retracted or expired, so there is nothing left to decide.",
        "webhook.disabled": "Webhook %(webhook_id)s was disabled after %(attempts)s failed "
        "deliveries; it receives nothing until it is enabled again.",
    }
)
"""One sentence per event type, in English: the ``description`` of a feed item.

``%(name)s`` stands for the item's own field of that name. The registry
sends it in the caller's language; the English stays the reference, and a
reader that acts on an event reads its ``type`` and fields, never this text.
"""
OTHER_EVENT: Final = "Event %(type)s."
"""The description of an event type with no sentence of its own."""
_FIELD = re.compile(r"%\((\w+)\)s")


def describe(item: Mapping[str, Any], text: Callable[[str], str] = str) -> str:
    """The ``description`` of a feed item; ``text`` gives a sentence in the reader's language."""
    template = DESCRIPTION.get(str(item.get("type")), OTHER_EVENT)
    values = {name: item.get(name, "-") for name in _FIELD.findall(template)}
    return text(template) % values
