"""Subject aggregate rows: one per subject key, holding the scorer's facts.

Each row stores a subject's facts and the counts derived from them with
``domain.reports.summarise``; writers lock rows in key order (see
``services/locking.py`` for the order and why it cannot deadlock). Every
function runs in the caller's transaction; driver errors become domain
errors here, through ``storage.db.translating``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import msgspec

from refund_registry.domain import reports as rules
from refund_registry.storage import binary_copy as bc
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q

FactsByKey = Mapping[bytes, Sequence[rules.Fact]]

_COLUMNS = [
    "subject_key", "kind", "active_reports", "disputed", "platforms", "latest_confirmed_at",
    "facts", "version",
]  # fmt: skip


def _new_rows(
    keys: Sequence[bytes], facts: FactsByKey, kinds: Mapping[bytes, str]
) -> tuple[list[Any], ...]:
    """Column arrays of new rows: key, kind, the counts, and the facts themselves."""
    summaries = [rules.summarise(facts[k]) for k in keys]
    return (
        list(keys),
        [kinds[k] for k in keys],
        [s.active_reports for s in summaries],
        [s.disputed for s in summaries],
        [s.platforms for s in summaries],
        [s.latest_confirmed_at for s in summaries],
        [facts[k] for k in keys],
    )


def _copy_rows(keys: Sequence[bytes], facts: FactsByKey, kinds: Mapping[bytes, str]) -> bytes:
    """The COPY payload of new rows (``_COLUMNS``, version 1), as ``_new_rows`` has them.

    Most new subjects of a bulk upload hold one fact, shared with the report's
    other subjects: its summary and JSON are worked out once per fact.
    """
    start, one, version = bc.fields(len(_COLUMNS)), bc.int4(1), bc.int8(1)
    texts = bc.Memo(bc.text)
    single: dict[int, bytes] = {}  # the fields after the kind, by the fact's identity
    rows = []
    for k in keys:
        held = facts[k]
        if len(held) == 1:
            fact = held[0]
            tail = single.get(id(fact))
            if tail is None:
                s = rules.summarise(held)
                tail = single[id(fact)] = b"".join(
                    [
                        one,
                        bc.int4(s.disputed),
                        one,
                        _latest(s),
                        bc.jsonb(_encode_facts(held)),
                        version,
                    ]
                )
        else:
            s = rules.summarise(held)
            tail = b"".join([
                bc.int4(s.active_reports), bc.int4(s.disputed), bc.int4(s.platforms), _latest(s),
                bc.jsonb(_encode_facts(held)), version,
            ])  # fmt: skip
        rows.append(start + bc.blob(k) + texts[kinds[k]] + tail)
    return bc.payload(rows)


def _latest(s: rules.Summary) -> bytes:
    return bc.NULL if s.latest_confirmed_at is None else bc.timestamptz(s.latest_confirmed_at)


_encode_facts = msgspec.json.Encoder().encode


@translating
async def create(
    conn: Conn, keys: Sequence[bytes], facts: FactsByKey, kinds: Mapping[bytes, str]
) -> set[bytes]:
    """Create the rows of those ``keys`` (sorted) that have none, holding their final
    values, in one statement; the keys whose rows this call created."""
    *columns, new_facts = _new_rows(keys, facts, kinds)
    # As JSON text: a list of lists would read as a two-dimensional array.
    as_text = [msgspec.json.encode(f).decode() for f in new_facts]
    created = await conn.fetch(Q["create_aggregates"], *columns, as_text)
    return {bytes(row["subject_key"]) for row in created}


@translating
async def existing(conn: Conn, keys: Sequence[bytes]) -> set[bytes]:
    """Which of these subjects have a row (unlocked: a probe, not a promise)."""
    rows = await conn.fetch(Q["existing_aggregates"], list(keys))
    return {bytes(row["subject_key"]) for row in rows}


@translating
async def copy_new(
    conn: Conn, keys: Sequence[bytes], facts: FactsByKey, kinds: Mapping[bytes, str]
) -> bool:
    """COPY the rows of subjects that had none at the probe, inside a savepoint.

    False if a concurrent writer created one of them since: the savepoint
    rolled back, nothing was written, and the transaction goes on.
    """
    try:
        async with conn.transaction():
            await bc.copy_binary(
                conn, "subject_aggregates", data=_copy_rows(keys, facts, kinds), columns=_COLUMNS
            )
    except asyncpg.UniqueViolationError:
        return False
    return True


@translating
async def lock(conn: Conn, keys: Sequence[bytes]) -> dict[bytes, list[rules.Fact]]:
    """Lock the existing rows of these subjects, in key order; their facts."""
    rows = await conn.fetch(Q["lock_aggregates"], list(keys))
    return {bytes(row["subject_key"]): list(row["facts"]) for row in rows}


@translating
async def write(conn: Conn, facts_by_key: FactsByKey) -> None:
    """Store each subject's facts and the counts derived from them (locks held)."""
    if not facts_by_key:
        return
    keys = list(facts_by_key)
    summaries = [rules.summarise(facts_by_key[k]) for k in keys]
    await conn.execute(
        Q["write_aggregates"],
        keys,
        [s.active_reports for s in summaries],
        [s.disputed for s in summaries],
        [s.platforms for s in summaries],
        [s.latest_confirmed_at for s in summaries],
        [msgspec.json.encode(facts_by_key[k]).decode() for k in keys],
    )


@translating
async def drop_empty(conn: Conn, keys: Sequence[bytes]) -> None:
    """Delete the rows of these subjects that have nothing left on record."""
    await conn.execute(Q["drop_empty_aggregates"], list(keys))


@translating
async def statement_of(conn: Conn, keys: Sequence[bytes]) -> str | None:
    """The buyer's statement stored under any of these subjects (the newest)."""
    statement: str | None = await conn.fetchval(Q["subject_statement"], list(keys))
    return statement


@translating
async def set_statement(conn: Conn, keys: Sequence[bytes], statement: str | None) -> list[bytes]:
    """Store the statement on these subjects' rows (locks held); the keys that have one,
    sorted."""
    rows = await conn.fetch(Q["set_statement"], list(keys), statement)
    return sorted(bytes(r["subject_key"]) for r in rows)
