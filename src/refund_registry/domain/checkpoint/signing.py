"""Signing and verifying checkpoints as C2SP signed notes, and signed receipts.

A checkpoint is published as a *signed note* (c2sp.org/signed-note): the body,
a blank line, then one line per signature::

    — <key name> <base64(4-byte key id ‖ Ed25519 signature over the body)>

A *receipt* is the log key's Ed25519 signature over
:func:`~refund_registry.domain.checkpoint.format.receipt_message`. Everything
here is pure: keys are passed in, no I/O, no clock.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from nacl.bindings import crypto_sign, crypto_sign_seed_keypair

from refund_registry.domain.checkpoint.format import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    VerifierKey,
    b64decode_strict,
    b64encode,
    check_name,
    checkpoint_body,
    has_control,
    key_id,
    parse_checkpoint_body,
    parse_verifier_key,
    receipt_message,
)

_SIG_PREFIX = "— "  # U+2014 EM DASH, then a space
_SIG_PREFIX_BYTES = _SIG_PREFIX.encode("utf-8")


# --------------------------------------------------------------------------- signed notes


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``text`` as a C2SP signed note with one Ed25519 signature line.

    Preconditions (c2sp.org/signed-note): ``text`` is non-empty, ends in a
    newline and holds no control character other than newline; ``name`` is a
    valid key name. The signature covers the UTF-8 text including its final
    newline, not the blank line after it.
    """
    check_name(name)
    if not isinstance(text, str) or not text.endswith("\n") or has_control(text):
        raise CheckpointError("note text must end in a newline and hold no control characters")
    try:
        message = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError("note text is not valid Unicode") from exc
    signature = private_key.sign(message)
    kid = key_id(name, private_key.public_key())
    return f"{text}\n{_SIG_PREFIX}{name} {b64encode(kid + signature)}\n"


def open_note(note: str | bytes, verifier: VerifierKey) -> str:
    """Check a signed note against one trusted key and return its text.

    Follows c2sp.org/signed-note: the text ends at the *last* blank line;
    every signature line must be well formed; lines from other keys (another
    name or key id) are ignored; every line from the trusted key must verify;
    and at least one must. Raises :class:`CheckpointError` otherwise. ``bytes``
    must be UTF-8; a ``str`` is encoded as UTF-8 before checking, since the
    signature covers bytes.
    """
    if isinstance(note, str):
        try:
            data = note.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CheckpointError("the note is not valid Unicode") from exc
    else:
        data = bytes(note)
    if len(data) > MAX_NOTE_BYTES:
        raise CheckpointError("the note is too large")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError("the note is not valid UTF-8") from exc
    # UTF-8 continuation bytes are all >= 0x80, so a byte-wise scan is exact.
    if any(b < 0x20 and b != 0x0A for b in data):
        raise CheckpointError("the note holds a control character")

    split = data.rfind(b"\n\n")
    if split < 0:
        raise CheckpointError("no blank line separates the note text from its signatures")
    text, block = data[: split + 1], data[split + 2 :]
    if not block or not block.endswith(b"\n"):
        raise CheckpointError("the note has no signature lines, or they do not end in a newline")
    lines = block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError("the note has too many signatures")

    verified = False
    for line in lines:
        if not line.startswith(_SIG_PREFIX_BYTES):
            raise CheckpointError("a signature line does not start with an em dash and a space")
        name, sep, encoded = line[len(_SIG_PREFIX_BYTES) :].decode("utf-8").partition(" ")
        if not sep or not encoded:
            raise CheckpointError("a signature line lacks a key name or a signature")
        check_name(name)
        blob = b64decode_strict(encoded, "a signature")
        if len(blob) < 5:
            raise CheckpointError("a signature is too short to hold a key id")
        if name != verifier.name or blob[:4] != verifier.key_id:
            continue  # another key's signature: the signed-note spec says to ignore it
        try:
            verifier.public_key.verify(blob[4:], text)
        except InvalidSignature as exc:
            # A bad signature from the trusted key rejects the whole note.
            raise CheckpointError(f"the signature by {name} does not verify") from exc
        verified = True
    if not verified:
        raise CheckpointError(f"the note carries no signature by {verifier.name}")
    return text.decode("utf-8")


def sign_checkpoint(
    origin: str, size: int, root: bytes, name: str, private_key: Ed25519PrivateKey
) -> str:
    """The signed-note checkpoint for (``origin``, ``size``, ``root``), signed as ``name``.

    c2sp.org/tlog-checkpoint asks that ``name`` match ``origin``; they are
    separate arguments only so that a key can be rotated under a new name.
    The caller must never sign a checkpoint inconsistent with one it signed
    before (the sequencer's frontier guarantees that).
    """
    return sign_note(checkpoint_body(origin, size, root), name, private_key)


def parse_and_verify(
    note_text: str | bytes,
    verifier_key: str | VerifierKey,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint against a trusted verifier key and return its tree head.

    ``verifier_key`` is a verifier key string or a parsed :class:`VerifierKey`.
    When ``origin`` is given, the checkpoint must name that log. Raises
    :class:`CheckpointError` for any bad format, unknown or bad signature.
    """
    verifier = (
        verifier_key if isinstance(verifier_key, VerifierKey) else parse_verifier_key(verifier_key)
    )
    checkpoint = parse_checkpoint_body(open_note(note_text, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(
            f"the checkpoint is for log {checkpoint.origin!r}, expected {origin!r}"
        )
    return checkpoint


# --------------------------------------------------------------------------- receipts


# libsodium's form of each signing key, made once per key object.
_SODIUM_KEYS: dict[int, tuple[Ed25519PrivateKey, bytes]] = {}


def ed25519_sign(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message``, made by libsodium.

    Ed25519 signatures are deterministic, so this is the signature OpenSSL
    would make, in about 60 % of its time (``bench/bench_signatures.py``).
    Used where one is made per answer or per flush.
    """
    held = _SODIUM_KEYS.get(id(private_key))
    if held is None or held[0] is not private_key:
        if len(_SODIUM_KEYS) >= 16:  # keys are few (the log key, a rotation)
            _SODIUM_KEYS.clear()
        _, secret = crypto_sign_seed_keypair(private_key.private_bytes_raw())
        held = _SODIUM_KEYS[id(private_key)] = (private_key, secret)
    return crypto_sign(message, held[1])[:64]


def sign_receipt(leaf_hash: bytes, logged_at_micros: int, private_key: Ed25519PrivateKey) -> bytes:
    """The 64-byte Ed25519 signature of a receipt for one logged entry."""
    return ed25519_sign(private_key, receipt_message(leaf_hash, logged_at_micros))


def verify_receipt(
    leaf_hash: bytes,
    logged_at_micros: int,
    signature: bytes,
    public_key: Ed25519PublicKey,
) -> bool:
    """Whether ``signature`` is the log key's receipt for this leaf hash and time.

    Every field of a receipt comes from the party being checked, so any
    malformed field is a failed verification (``False``), never an exception.
    """
    try:
        message = receipt_message(leaf_hash, logged_at_micros)
    except CheckpointError:
        return False
    if not isinstance(signature, bytes) or len(signature) != 64:
        return False
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
