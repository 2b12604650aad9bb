"""The formats of the access log's checkpoints, verifier keys and receipts.

A *checkpoint* (c2sp.org/tlog-checkpoint) commits the log to a tree size and
root hash. Its body is three lines, each ending in a newline::

    <origin>
    <tree size, decimal, no leading zeroes>
    <root hash, standard base64 with padding>

The Ed25519 key id is ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`` and a
verifier key is shared as ``<name>+<hex key id>+<base64(0x01 ‖ public key)>``,
the format golang.org/x/mod/sumdb/note and other C2SP tooling read, so an
auditor can check our checkpoints without our code.

A *receipt* signs :data:`RECEIPT_CONTEXT` ‖ leaf hash ‖ ``logged_at`` in
microseconds as an unsigned 64-bit big-endian integer. That message (67 bytes)
can never be a checkpoint body: a body whose first line matched the context
would need at least 47 more bytes. So one key can safely sign both; it must
sign nothing else.

Parsing is strict where the format leaves room for a second spelling of the same
thing (non-canonical base64, leading zeroes): what verifies is exactly what was
signed. Everything here is pure: keys are passed in, no I/O, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from refund_registry.errors import RegistryError

SIGNATURE_TYPE_ED25519 = 0x01
"""The signed-note signature type byte for Ed25519 (c2sp.org/signed-note)."""

MAX_NOTE_BYTES = 1 << 20
"""Notes above this size are refused before any parsing, to bound the work."""

MAX_SIGNATURES = 100
"""Signature lines accepted per note: C2SP signed-note asks for 16 at least; Go allows 100."""

RECEIPT_CONTEXT = b"refund-registry receipt v1\n"
"""Domain-separation prefix of every receipt message; bumped if the layout changes."""

_HASH_SIZE = 32
_MAX_TREE_SIZE = 1 << 64
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")  # ASCII only: [0-9], not \d
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class CheckpointError(RegistryError):
    """A note, checkpoint, verifier key or receipt input is malformed or fails to verify."""

    code = "audit.invalid_checkpoint"
    title = "Invalid checkpoint"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A verified tree head: the log ``origin`` had ``size`` leaves with root hash ``root``.

    ``extensions`` are the optional extra body lines of c2sp.org/tlog-checkpoint;
    this log never writes any, but a parser must accept them.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A parsed note verifier key: the signer's name, key id and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    def __str__(self) -> str:
        return verifier_key_string(self.name, self.public_key)


# --------------------------------------------------------------------------- encoding helpers


def b64encode(data: bytes) -> str:
    """Standard, padded base64 as text: the one spelling every format here uses."""
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard, padded base64, in its one canonical spelling only.

    Python (like Go) otherwise accepts non-zero unused bits in the last
    character, which would let anyone change the text of a signed note without
    touching what the signature covers.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError as exc:  # binascii.Error and UnicodeEncodeError are ValueErrors
        raise CheckpointError(f"{what} is not valid base64") from exc
    if b64encode(data) != text:
        raise CheckpointError(f"{what} is not canonical base64")
    return data


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character other than newline (refused in notes)."""
    return any(ord(c) < 0x20 and c != "\n" for c in text)


def check_name(name: str) -> str:
    """``name`` if it is a valid signed-note key name; :class:`CheckpointError` otherwise."""
    # c2sp.org/signed-note: non-empty, no Unicode spaces, no "+". Control
    # characters are excluded by the note rules anyway; surrogates cannot be UTF-8.
    if (
        not isinstance(name, str)
        or not name
        or "+" in name
        or any(c.isspace() or ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF for c in name)
    ):
        raise CheckpointError(f"invalid key name {name!r}")
    return name


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


# --------------------------------------------------------------------------- keys


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The 4-byte signed-note key id, ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``.

    It names the key in signature lines; it is an identifier, not a security
    check (the verifier must already hold the full key).
    """
    check_name(name)
    material = (
        name.encode("utf-8") + b"\n" + bytes([SIGNATURE_TYPE_ED25519]) + _raw_public_key(public_key)
    )
    return hashlib.sha256(material).digest()[:4]


def verifier_key_string(name: str, public_key: Ed25519PublicKey) -> str:
    """The shareable verifier key ``<name>+<hex key id>+<base64(0x01 ‖ public key)>``."""
    kid = key_id(name, public_key)
    encoded = b64encode(bytes([SIGNATURE_TYPE_ED25519]) + _raw_public_key(public_key))
    return f"{name}+{kid.hex()}+{encoded}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse a verifier key string; the embedded key id must match the name and key.

    Only Ed25519 (type 0x01) keys are accepted. Surrounding whitespace is an
    error rather than silently stripped, so a key pasted with junk is noticed.
    """
    parts = text.split("+", 2)  # the name and hex id hold no "+"; base64 may
    if len(parts) != 3:
        raise CheckpointError("a verifier key has the form name+keyid+key")
    name, hex_id, encoded = parts
    check_name(name)
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise CheckpointError("the verifier key id must be 8 hexadecimal digits")
    raw = b64decode_strict(encoded, "verifier key")
    if len(raw) != 33 or raw[0] != SIGNATURE_TYPE_ED25519:
        raise CheckpointError("the verifier key is not an Ed25519 (type 0x01) key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as exc:
        raise CheckpointError("the verifier key does not hold an Ed25519 public key") from exc
    kid = key_id(name, public_key)
    if kid != bytes.fromhex(hex_id):
        raise CheckpointError("the verifier key id does not match its name and key")
    return VerifierKey(name, kid, public_key)


# --------------------------------------------------------------------------- checkpoints


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The c2sp.org/tlog-checkpoint note text for a tree head (no extension lines).

    Preconditions: ``origin`` is a non-empty single line without control
    characters, ``0 ≤ size < 2^64``, ``root`` is the 32-byte RFC 9162 root hash.
    """
    if not isinstance(origin, str) or not origin or "\n" in origin or has_control(origin):
        raise CheckpointError("the origin must be a non-empty line without control characters")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < _MAX_TREE_SIZE:
        raise CheckpointError("the tree size must be an integer in [0, 2^64)")
    if not isinstance(root, bytes) or len(root) != _HASH_SIZE:
        raise CheckpointError("the root hash must be 32 bytes")
    return f"{origin}\n{size}\n{b64encode(root)}\n"


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Parse checkpoint note text; it must already have been verified (see :func:`open_note`)."""
    if not text.endswith("\n"):
        raise CheckpointError("the checkpoint text does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has at least three lines")
    origin, size_line, root_line, *extensions = lines
    if not origin:
        raise CheckpointError("the checkpoint origin is empty")
    if not _DECIMAL.fullmatch(size_line):
        raise CheckpointError("the tree size is not a decimal number without leading zeroes")
    size = int(size_line)
    if size >= _MAX_TREE_SIZE:
        raise CheckpointError("the tree size does not fit in 64 bits")
    root = b64decode_strict(root_line, "the root hash")
    if len(root) != _HASH_SIZE:
        raise CheckpointError("the root hash is not 32 bytes")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, size, root, tuple(extensions))


# --------------------------------------------------------------------------- receipts


def receipt_message(leaf_hash: bytes, logged_at_micros: int) -> bytes:
    """The exact bytes a receipt signs.

    ``RECEIPT_CONTEXT ‖ leaf_hash (32 bytes) ‖ logged_at_micros (uint64, big-endian)``,
    where ``logged_at_micros`` counts microseconds since the Unix epoch (UTC).
    """
    if not isinstance(leaf_hash, bytes) or len(leaf_hash) != _HASH_SIZE:
        raise CheckpointError("a receipt's leaf hash must be 32 bytes")
    if (
        isinstance(logged_at_micros, bool)
        or not isinstance(logged_at_micros, int)
        or not 0 <= logged_at_micros < 1 << 64
    ):
        raise CheckpointError("a receipt's time must be microseconds in [0, 2^64)")
    return RECEIPT_CONTEXT + leaf_hash + logged_at_micros.to_bytes(8, "big")
