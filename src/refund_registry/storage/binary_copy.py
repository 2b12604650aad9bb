"""PostgreSQL's binary COPY format, written directly, for the bulk upload's rows.

The driver encodes COPY records value by value, and some values cost it
dearly: every array and array element is checked against three abstract base
classes, every time is converted to UTC first. A 10,000-report upload sends
~70,000 rows; most of their values repeat (the member, the time of filing, a
few categories, currencies, dates and kinds), so the repositories encode each
distinct value once (``Memo``) and join each row from ready pieces. The bytes
are what the driver would send for the same values (the format is
PostgreSQL's "COPY … Binary Format"; ``tests/integration/test_binary_copy.py``
compares rows stored both ways).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from refund_registry.storage.db import COMMAND_TIMEOUT, bounded_copy

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, no flags, no extension
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
TEXT_OID = 25
BYTEA_OID = 17

_length = struct.Struct(">i").pack
_int2 = struct.Struct(">ih").pack
_int4 = struct.Struct(">ii").pack
_int8 = struct.Struct(">iq").pack
_array_head = struct.Struct(">iiiiii").pack
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(2000, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)
# The driver sends the extreme dates as PostgreSQL's infinities; so do we.
_DATE_INFINITY = _int4(4, 0x7FFFFFFF)
_DATE_MINUS_INFINITY = _int4(4, -0x80000000)


def fields(count: int) -> bytes:
    """The start of a row of ``count`` fields."""
    return struct.pack(">h", count)


def blob(value: bytes) -> bytes:
    """A ``bytea`` field (or any value already in its binary form)."""
    return _length(len(value)) + value


def text(value: str) -> bytes:
    return blob(value.encode())


def text_or_null(value: str | None) -> bytes:
    return NULL if value is None else blob(value.encode())


def int2(value: int) -> bytes:
    return _int2(2, value)


def int4(value: int) -> bytes:
    return _int4(4, value)


def int8(value: int) -> bytes:
    return _int8(8, value)


def day(value: date) -> bytes:
    if value == date.max:
        return _DATE_INFINITY
    if value == date.min:
        return _DATE_MINUS_INFINITY
    return _int4(4, value.toordinal() - _EPOCH_DAY)


def timestamptz(value: datetime) -> bytes:
    """Microseconds since 2000-01-01 UTC; a naive time is local time, as the driver reads it."""
    if value.tzinfo is None:
        if value == datetime.max:
            return _int8(8, 0x7FFFFFFFFFFFFFFF)
        if value == datetime.min:
            return _int8(8, -0x8000000000000000)
        value = value.astimezone(UTC)
    return _int8(8, (value - _EPOCH) // _MICROSECOND)


def array(element_oid: int, items: Sequence[bytes]) -> bytes:
    """A one-dimensional array without NULLs of values already in binary form."""
    if not items:
        return blob(struct.pack(">iii", 0, 0, element_oid))
    body = b"".join([_length(len(i)) + i for i in items])
    return _array_head(20 + len(body), 1, 0, element_oid, len(items), 1) + body


def text_array(items: Sequence[str]) -> bytes:
    return array(TEXT_OID, [i.encode() for i in items])


def jsonb(encoded: bytes) -> bytes:
    """A ``jsonb`` field from JSON text (the binary form is a version byte, then the text)."""
    return _length(len(encoded) + 1) + b"\x01" + encoded


def payload(rows: Sequence[bytes]) -> bytes:
    """The whole COPY stream of ``rows`` (each row's bytes, or its pieces in order)."""
    return b"".join([HEADER, *rows, TRAILER])


_K = TypeVar("_K")


class Memo(dict[_K, bytes]):
    """Encoded fields by value: each distinct value is encoded once."""

    def __init__(self, encode: Callable[[_K], bytes]) -> None:
        super().__init__()
        self.encode = encode

    def __missing__(self, value: _K) -> bytes:
        encoded = self[value] = self.encode(value)
        return encoded


async def copy_binary(
    conn: Any, table: str, *, data: bytes, columns: Sequence[str], within: float = COMMAND_TIMEOUT
) -> None:
    """``COPY table (columns) FROM STDIN (FORMAT binary)`` of ``data`` (``payload``),
    bounded in time as ``storage.db.copy_records`` is."""
    source = memoryview(data)  # the driver would take bytes for a file name
    await bounded_copy(
        conn,
        table,
        lambda: conn.copy_to_table(table, source=source, columns=list(columns), format="binary"),
        within,
    )
