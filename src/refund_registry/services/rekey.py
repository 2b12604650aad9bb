"""Rotating the registry key without losing a record.

A subject key is ``HMAC(k_n, … HMAC(k_1, pseudonym))`` (``domain.keyring.Keyring``),
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from refund_registry.domain.keyring import Keyring
from refund_registry.storage import subject_keys
from refund_registry.storage.keyfiles import load_keyring_keys, write_keyring


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
    write_keyring(pending, new.keys)
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
    conn = await subject_keys.connect(dsn)
    try:
        async with conn.transaction():
            await subject_keys.lock_tables(conn)
            versions = await subject_keys.report_key_versions(conn)
            if any(version != old.version for version in versions):
                raise RuntimeError(
                    f"reports are keyed with versions {versions}, "
                    f"the keyring file holds {old.version} keys"
                )
            stored = await subject_keys.stored_keys(conn)
            done = await subject_keys.rewrap(
                conn, stored, [new.rewrap(k, old.version) for k in stored]
            )
            await subject_keys.set_report_key_version(conn, new.version)
    finally:
        await conn.close()
    return {"subject_keys": len(stored), **asdict(done), "key_version": new.version}
