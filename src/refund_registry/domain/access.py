"""Access-log entries: what is recorded about each access, and its exact bytes.

An entry is canonical JSON (keys sorted, no insignificant whitespace, UTF-8)
of a flat object; those bytes are the Merkle leaf, so the log commits to
exactly what an auditor later reads. Subjects appear only as salted
commitments ``SHA-256(salt || subject_key)``: with the salt (kept apart, and
deletable under retention) an auditor can tie an entry to a buyer; without it
the entry still verifies but names nobody.
"""

from __future__ import annotations

import binascii
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from refund_registry.domain.merkle import leaf_hash

ENTRY_VERSION = 2
"""Version 2 adds ``iss`` and ``jti`` (when the access came with a signed token);
an entry of an access without one is written as version 1, byte for byte as
before. Entries are never rewritten, so a log holds both."""
_encoder = msgspec.json.Encoder(order="sorted")

ACTIONS = frozenset(
    {
        "risk.query",
        "report.file",
        "report.read",
        "report.list",
        "report.retract",
        "subject.access",
        "subject.statement",
        "appeal.open",
        "appeal.read",
        "appeal.list",
        "appeal.withdraw",
        "appeal.response",
        "appeal.decision",
        "appeal.deadline",
        "keyservice.evaluate",
        "admin.principals",
        "audit.read",
    }
)


def commitment(salt: bytes, subject_key: bytes) -> bytes:
    return hashlib.sha256(salt + subject_key).digest()


class AccessRecord(msgspec.Struct, frozen=True):
    """One access, before it is encoded. ``at`` is aware UTC.

    A struct, not a dataclass: a batch query makes a thousand at once, and a
    frozen dataclass sets each field through ``object.__setattr__`` (ten
    times the CPU).
    """

    at: datetime
    actor: str
    role: str
    action: str
    request_digest: str
    subject_keys: Sequence[bytes] = ()
    purpose: str | None = None
    outcome: str | None = None
    query_id: str | None = None
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    # The signed token behind the access: its issuer and ``jti`` (with
    # ``request_digest``, the digest of its signing input). ``None`` for an
    # access that came with no token (a deadline, a buyer's session).
    issuer: str | None = None
    jti: str | None = None


class EncodedEntry(msgspec.Struct, frozen=True):
    record: AccessRecord
    entry: bytes
    leaf_hash: bytes
    at_micros: int
    salts: tuple[bytes, ...]


def micros(at: datetime) -> int:
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode(record: AccessRecord, salts: Sequence[bytes] | None = None) -> EncodedEntry:
    """The canonical bytes of an entry, with fresh 16-byte salts unless given."""
    if record.action not in ACTIONS:
        raise ValueError(f"unknown access action {record.action!r}")
    keys = record.subject_keys
    chosen = tuple(salts) if salts is not None else tuple(secrets.token_bytes(16) for _ in keys)
    if len(chosen) != len(keys):
        raise ValueError("one salt per subject key")
    # A bulk upload encodes ten thousand entries: the commitments' base64url and
    # the time in microseconds are spelled out here rather than through helpers.
    when = record.at
    at = micros(when) if when.tzinfo is None else (when - _EPOCH) // _MICROSECOND
    signed = record.jti is not None
    body: dict[str, Any] = {
        "v": ENTRY_VERSION if signed else 1,
        "at": at,
        "actor": record.actor,
        "role": record.role,
        "action": record.action,
        "request": record.request_digest,
        "subjects": [
            binascii.b2a_base64(_sha256(s + k).digest(), newline=False)
            .translate(_URLSAFE)
            .rstrip(b"=")
            .decode("ascii")
            for s, k in zip(chosen, keys, strict=True)
        ],
    }
    if record.purpose is not None:
        body["purpose"] = record.purpose
    if record.outcome is not None:
        body["outcome"] = record.outcome
    if record.query_id is not None:
        body["query_id"] = record.query_id
    if record.detail:
        body["detail"] = record.detail
    if signed:
        body["iss"] = record.issuer if record.issuer is not None else record.actor
        body["jti"] = record.jti
    entry = _encoder.encode(body)
    return EncodedEntry(record, entry, leaf_hash(entry), at, chosen)


def encode_many(records: Sequence[AccessRecord]) -> list[EncodedEntry]:
    """:func:`encode` for each record, their salts from one draw of randomness."""
    drawn = secrets.token_bytes(16 * sum(len(r.subject_keys) for r in records))
    out = []
    at = 0
    for record in records:
        n = len(record.subject_keys)
        out.append(encode(record, [drawn[i : i + 16] for i in range(at, at + 16 * n, 16)]))
        at += 16 * n
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_sha256 = hashlib.sha256


def decode(entry: bytes) -> dict[str, Any]:
    """The fields of an entry, as an auditor reads them."""
    fields: dict[str, Any] = msgspec.json.decode(entry)
    return fields
