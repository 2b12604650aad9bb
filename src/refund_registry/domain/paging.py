"""Keyset paging of the staff and member listings: opaque cursors and page bounds.

A cursor is the sort key of the last item of a page, so the next page starts
strictly after it: an item added or changed meanwhile never makes a page
repeat or skip one that was already there in the same place. It is opaque to
clients (unpadded base64url of a small JSON array) and bound to its listing:
the cursor names the listing and a digest of who asked with which filters,
and a cursor from another listing, another caller or other filters is refused
(``page.cursor``, 400) instead of silently starting somewhere unrelated. It
is not a secret and not signed: a forged cursor only moves the start within
what the caller may see anyway, because the visibility rule is applied by the
query itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec

from refund_registry.domain.wire import b64url, b64url_decode
from refund_registry.errors import InvalidCursor, InvalidInput

DEFAULT_PAGE = 50
MAX_PAGE = 200
CURSOR_VERSION = 1
MAX_CURSOR_CHARS = 512
"""A cursor this registry hands out is far shorter; anything longer is not one."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Whole numbers in a cursor are times (or small flags): refusing any outside
# the years 1 to 9999 keeps a forged one from overflowing ``datetime``.
_LOWEST = (datetime(1, 1, 2, tzinfo=UTC) - _EPOCH) // _MICROSECOND
_HIGHEST = (datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH) // _MICROSECOND
_encoder = msgspec.json.Encoder()

Key = tuple[int | str, ...]
"""A sort key: whole numbers (times as microseconds since the epoch) and ids."""


def check_limit(limit: int) -> int:
    """``limit`` if it is a page size from 1 to :data:`MAX_PAGE`, else ``page.limit`` (422)."""
    if isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}", code="page.limit")
    return limit


def scope(listing: str, *parts: str | None) -> str:
    """What a cursor is bound to: the listing's name and a digest of the viewer and filters.

    ``parts`` are the caller's principal id and each filter as text (``None``
    for a filter not given); the same inputs give the same scope.
    """
    digest = hashlib.sha256(_encoder.encode([listing, *parts])).digest()[:12]
    return f"{listing}:{b64url(digest)}"


def encode_cursor(bound_to: str, key: Key) -> str:
    """The opaque cursor for "after ``key``" in the listing ``bound_to`` (see :func:`scope`)."""
    return b64url(_encoder.encode([CURSOR_VERSION, bound_to, *key]))


def decode_cursor(bound_to: str, cursor: str, shape: Sequence[type]) -> Key:
    """The sort key in ``cursor``, which must come from the listing ``bound_to``.

    ``shape`` is the type of each element of the key (``int`` or ``str``).
    Anything else — not base64url, not the JSON array this module writes, of
    another version, shape or listing — is ``page.cursor`` (400).
    """
    raw = b64url_decode(cursor) if len(cursor) <= MAX_CURSOR_CHARS else None
    try:
        value = msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        value = None
    if (
        not isinstance(value, list)
        or len(value) != 2 + len(shape)
        or value[0] != CURSOR_VERSION
        or not isinstance(value[1], str)
        or not all(_is(v, t) for v, t in zip(value[2:], shape, strict=True))
    ):
        raise InvalidCursor("'after' must be a cursor from an earlier page", code="page.cursor")
    if value[1] != bound_to:
        raise InvalidCursor(
            "'after' is a cursor from another listing, caller or filter; start again without it",
            code="page.cursor",
        )
    return tuple(value[2:])


def _is(value: object, typ: type) -> bool:
    # bool is an int in Python, never in a cursor; ids are never empty.
    if typ is int:
        return (
            isinstance(value, int) and not isinstance(value, bool) and _LOWEST <= value <= _HIGHEST
        )
    return isinstance(value, str) and value != ""


def to_micros(at: datetime) -> int:
    """An aware time as whole microseconds since the Unix epoch (exact, no float)."""
    return (at - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC time ``micros`` microseconds after the Unix epoch."""
    return _EPOCH + micros * _MICROSECOND


# --------------------------------------------------------------------------- the two listings


def appeal_cursor(bound_to: str, closed: bool, at: datetime, appeal_id: str) -> str:
    """The cursor after the queue item with sort key ``(closed, at, appeal_id)``."""
    return encode_cursor(bound_to, (int(closed), to_micros(at), appeal_id))


def read_appeal_cursor(bound_to: str, cursor: str) -> tuple[bool, datetime, str]:
    """The queue sort key of :func:`appeal_cursor`; ``page.cursor`` for anything else."""
    closed, micros, appeal_id = decode_cursor(bound_to, cursor, (int, int, str))
    if closed not in (0, 1):
        raise InvalidCursor("'after' must be a cursor from an earlier page", code="page.cursor")
    return bool(closed), from_micros(int(micros)), str(appeal_id)


def report_cursor(bound_to: str, filed_at: datetime, report_id: str) -> str:
    """The cursor after the report with sort key ``(filed_at, report_id)``."""
    return encode_cursor(bound_to, (to_micros(filed_at), report_id))


def read_report_cursor(bound_to: str, cursor: str) -> tuple[datetime, str]:
    """The report sort key of :func:`report_cursor`; ``page.cursor`` for anything else."""
    micros, report_id = decode_cursor(bound_to, cursor, (int, str))
    return from_micros(int(micros)), str(report_id)


def check_choice(name: str, value: str | None, options: frozenset[str], *, code: str) -> None:
    """A filter ``value`` must be one of ``options`` (``None``: no filter); else ``code`` (422)."""
    if value is not None and value not in options:
        raise InvalidInput(f"{name}: must be one of {', '.join(sorted(options))}", code=code)


def check_time(name: str, value: datetime | None, *, code: str) -> None:
    """A time filter must say its UTC offset (``None``: no filter); else ``code`` (422)."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise InvalidInput(f"{name}: must be a time with a UTC offset", code=code)
