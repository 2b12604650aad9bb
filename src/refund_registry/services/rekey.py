"""Rotating the registry key without losing a record.

A subject key is ``HMAC(k_n, … HMAC(k_1, pseudonym))`` (``domain.reports.Keyring``),
so rotating to a new key re-wraps every stored subject key with
``HMAC(k_new, stored)``: no pseudonym is needed and no record can be lost.

Procedure (``refund-registry keys rotate-registry``): the API processes and
workers are stopped (they hold the keyring in memory); the new keyring is
written beside the old one as ``<file>.next``; every subject key in every table
is re-wrapped in ONE transaction; only after the commit does ``<file>.next``
replace the keyring file. A crash before the commit changes nothing; a crash
after it leaves ``<file>.next`` holding the keyring the database now uses.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from refund_registry.domain.reports import Keyring
from refund_registry.keyfiles import load_keyring_keys

# Every place a subject key is stored: (table, column, is_array).
_PLACES = (
    ("subject_aggregates", "subject_key", False),
    ("access_subjects", "subject_key", False),
    ("reports", "subject_keys", True),
    ("appeals", "subject_keys", True),
)


def _write_keyring(path: Path, keys: tuple[bytes, ...]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(k.hex() + "\n" for k in keys))
        fh.flush()
        os.fsync(fh.fileno())


@dataclass(frozen=True)
class Rotation:
    key_file: Path
    pending: Path
    old: Keyring
    new: Keyring


def begin(key_file: Path, *, new_key: bytes | None = None) -> Rotation:
    """Write the extended keyring to ``<file>.next``; refuse if one is already there."""
    pending = key_file.with_name(key_file.name + ".next")
    if pending.exists():
        raise RuntimeError(
            f"{pending} exists: a rotation committed or crashed earlier; inspect it first"
        )
    old_keys = load_keyring_keys(key_file, generate=False)
    old = Keyring(old_keys)
    new = Keyring((*old_keys, new_key or secrets.token_bytes(32)))
    _write_keyring(pending, new.keys)
    return Rotation(key_file, pending, old, new)


def finish(rotation: Rotation, *, committed: bool) -> None:
    """After the database commit the new keyring becomes the keyring; otherwise it goes."""
    if committed:
        os.replace(rotation.pending, rotation.key_file)
    else:
        rotation.pending.unlink(missing_ok=True)


async def rewrap(dsn: str, rotation: Rotation) -> dict[str, Any]:
    """Re-wrap every stored subject key with the new key, in one transaction.

    ``dsn`` is the owner's URL (the one migrations use). Returns counts per table.
    """
    old, new = rotation.old, rotation.new
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            # Nobody writes subject keys while they are being re-wrapped.
            await conn.execute(
                "LOCK TABLE subject_aggregates, access_subjects, reports, appeals IN EXCLUSIVE MODE"
            )
            versions = await conn.fetch("SELECT DISTINCT key_version FROM reports")
            if any(row["key_version"] != old.version for row in versions):
                raise RuntimeError(
                    f"reports are keyed with versions {[r['key_version'] for r in versions]}, "
                    f"the keyring file holds {old.version} keys"
                )
            stored = await conn.fetch(
                "SELECT subject_key AS k FROM subject_aggregates UNION "
                "SELECT subject_key FROM access_subjects UNION "
                "SELECT unnest(subject_keys) FROM reports UNION "
                "SELECT unnest(subject_keys) FROM appeals"
            )
            await conn.execute(
                "CREATE TEMP TABLE rekey_map (old bytea PRIMARY KEY, new bytea NOT NULL) "
                "ON COMMIT DROP"
            )
            await conn.copy_records_to_table(
                "rekey_map",
                records=[(bytes(r["k"]), new.rewrap(bytes(r["k"]), old.version)) for r in stored],
            )
            counts: dict[str, Any] = {"subject_keys": len(stored)}
            for table, column, is_array in _PLACES:
                if is_array:
                    sql = (
                        f"UPDATE {table} t SET {column} = ARRAY("  # noqa: S608 - fixed names
                        f"SELECT m.new FROM unnest(t.{column}) WITH ORDINALITY AS u(k, i) "
                        f"JOIN rekey_map m ON m.old = u.k ORDER BY u.i) "
                        f"WHERE cardinality(t.{column}) > 0"
                    )
                else:
                    sql = (
                        f"UPDATE {table} t SET {column} = m.new "  # noqa: S608 - fixed names
                        f"FROM rekey_map m WHERE t.{column} = m.old"
                    )
                status = await conn.execute(sql)
                counts[table] = int(status.rsplit(" ", 1)[-1])
            await conn.execute("UPDATE reports SET key_version = $1", new.version)
    finally:
        await conn.close()
    counts["key_version"] = new.version
    return counts
