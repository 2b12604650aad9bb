"""Witness cosignatures on checkpoints (c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``).

A cosignature is one more signed-note signature line under a checkpoint::

    — <witness name> base64(key id ‖ timestamp ‖ Ed25519 signature)

* the key id is ``SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]``: type 0x04,
  not the log's 0x01, so a witness key can never pass for a log key;
* the timestamp is 8 bytes, big-endian seconds since the epoch, at most 2^63-1;
* the signature covers ``"cosignature/v1\\n" ‖ "time <t>\\n" ‖ checkpoint body``.

A witness's verifier key is ``<name>+<hex key id>+<base64(0x04 ‖ public key)>``.

Everything here is pure: keys and times are passed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from refund_registry.domain.checkpoint.format import (
    MAX_SIGNATURES,
    CheckpointError,
    b64decode_strict,
    b64encode,
    check_name,
    has_control,
)

SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04
"""The signed-note signature type byte of an Ed25519 ``cosignature/v1`` key."""

MAX_TIMESTAMP = (1 << 63) - 1

_SIG_PREFIX = "— "
_HEADER = "cosignature/v1\n"


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A witness's verifier key: its name, 4-byte key id and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    def __str__(self) -> str:
        return cosigner_key_string(self.name, self.public_key)


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: who cosigned, when (POSIX seconds), and its note line."""

    name: str
    timestamp: int
    line: str


def cosigner_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """``SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]``."""
    check_name(name)
    material = (
        name.encode("utf-8")
        + b"\n"
        + bytes([SIGNATURE_TYPE_COSIGNATURE_V1])
        + public_key.public_bytes_raw()
    )
    return hashlib.sha256(material).digest()[:4]


def cosigner_key_string(name: str, public_key: Ed25519PublicKey) -> str:
    """The shareable form ``<name>+<hex key id>+<base64(0x04 ‖ public key)>``."""
    kid = cosigner_key_id(name, public_key)
    raw = bytes([SIGNATURE_TYPE_COSIGNATURE_V1]) + public_key.public_bytes_raw()
    return f"{name}+{kid.hex()}+{b64encode(raw)}"


def parse_cosigner_key(text: str) -> CosignerKey:
    """Parse a witness verifier key; its key id must match its name and key."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("a witness key has the form name+keyid+key")
    name, hex_id, encoded = parts
    check_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hex_id):
        raise CheckpointError("the witness key id must be 8 hexadecimal digits")
    raw = b64decode_strict(encoded, "witness key")
    if len(raw) != 33 or raw[0] != SIGNATURE_TYPE_COSIGNATURE_V1:
        raise CheckpointError("the witness key is not an Ed25519 cosignature/v1 (type 0x04) key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as exc:
        raise CheckpointError("the witness key does not hold an Ed25519 public key") from exc
    kid = cosigner_key_id(name, public_key)
    if kid != bytes.fromhex(hex_id):
        raise CheckpointError("the witness key id does not match its name and key")
    return CosignerKey(name, kid, public_key)


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 ``cosignature/v1`` signs over a checkpoint ``body``."""
    if not isinstance(body, str) or not body.endswith("\n") or has_control(body):
        raise CheckpointError("a checkpoint body ends in a newline and holds no control characters")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise CheckpointError("a cosignature time is an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CheckpointError("a cosignature time is in [0, 2^63)")
    return f"{_HEADER}time {timestamp}\n{body}".encode()


def cosign(body: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """The cosignature line (ending in a newline) of ``name``'s key over ``body`` at ``timestamp``.

    Precondition: the caller has checked that ``body`` is consistent with every
    checkpoint of the same log it cosigned before; that is what the line states.
    """
    signature = private_key.sign(cosigned_message(body, timestamp))
    blob = cosigner_key_id(name, private_key.public_key()) + timestamp.to_bytes(8, "big")
    return f"{_SIG_PREFIX}{name} {b64encode(blob + signature)}\n"


def signature_lines(note: str) -> tuple[str, list[str]]:
    """Split a signed note into its body (with final newline) and its signature lines."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointError("no blank line separates the note text from its signatures")
    lines = note[split + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError("the note has too many signatures")
    return note[: split + 1], lines


def verify_cosignature_line(body: str, line: str, key: CosignerKey) -> Cosignature | None:
    """The cosignature if ``line`` is ``key``'s and verifies over ``body``; else ``None``.

    A line of another key (name or key id differ) is ``None`` too: it is not
    this witness's. Only a well-formed line by this key with a bad signature is
    an error, as c2sp.org/signed-note treats it.
    """
    if not line.startswith(_SIG_PREFIX):
        raise CheckpointError("a signature line does not start with an em dash and a space")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or name != key.name:
        return None
    blob = b64decode_strict(encoded, "a cosignature")
    if len(blob) != 4 + 8 + 64 or blob[:4] != key.key_id:
        return None
    timestamp = int.from_bytes(blob[4:12], "big")
    try:
        key.public_key.verify(blob[12:], cosigned_message(body, timestamp))
    except InvalidSignature as exc:
        raise CheckpointError(f"the cosignature by {name} does not verify") from exc
    return Cosignature(name, timestamp, line + "\n")


def verified_cosignatures(note: str, keys: list[CosignerKey]) -> list[Cosignature]:
    """Every valid cosignature in ``note`` by one of ``keys``, at most one per witness.

    Lines by other keys are ignored; a bad line by a given key is an error.
    The caller checks the log's own signature separately (``open_note``).
    """
    body, lines = signature_lines(note)
    found: dict[str, Cosignature] = {}
    for key in keys:
        for line in lines:
            cosig = verify_cosignature_line(body, line, key)
            if cosig is not None:
                found.setdefault(key.name, cosig)
    return list(found.values())


def check_quorum(note: str, keys: list[CosignerKey], quorum: int) -> list[Cosignature]:
    """The valid cosignatures of ``note`` if at least ``quorum`` distinct witnesses gave one.

    Raises :class:`CheckpointError` naming how many were found otherwise.
    """
    if quorum < 0 or quorum > len(keys):
        raise CheckpointError(f"a quorum of {quorum} cannot be met by {len(keys)} witnesses")
    found = verified_cosignatures(note, keys)
    if len(found) < quorum:
        names = ", ".join(c.name for c in found) or "none"
        raise CheckpointError(
            f"the checkpoint has {len(found)} valid cosignature(s) ({names}), "
            f"fewer than the quorum of {quorum}"
        )
    return found
