"""How values are spelled on the wire: unpadded base64url and UTC times with ``Z``."""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from datetime import UTC, datetime


def b64url(data: bytes) -> str:
    """Unpadded base64url (docs/contract.md: binary values on the wire)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STD = bytes.maketrans(b"-_", b"+/")
_PADDING = {0: b"", 2: b"==", 3: b"="}
_LOW_BITS = {0: 0, 2: 0x0F, 3: 0x03}


def b64url_decode(text: str) -> bytes | None:
    """Strict unpadded base64url, or None.

    Non-canonical spellings (unused low bits set in the last character) are
    refused, so that one value has exactly one spelling.
    """
    tail = len(text) % 4
    if tail == 1 or "+" in text or "/" in text or "=" in text:
        return None
    if tail and _B64_ALPHABET.find(text[-1]) & _LOW_BITS[tail]:
        return None  # also a last character outside the alphabet (find gives -1)
    try:
        return binascii.a2b_base64(
            text.encode("ascii").translate(_TO_STD) + _PADDING[tail], strict_mode=True
        )
    except (UnicodeEncodeError, binascii.Error):
        return None


def decode_all(texts: Sequence[str], size: int) -> list[bytes] | None:
    """``[b64url_decode(t) for t in texts]`` when every text is the canonical
    unpadded base64url of ``size`` bytes; None when any is not.

    One call of the decoder for all of them: each text is completed to whole
    quartets with ``A`` (zero bits), so a text is canonical exactly when the
    bytes that follow its ``size`` bytes are zero.
    """
    chars = -(-size * 4 // 3)  # unpadded length of ``size`` bytes
    fill = "A" * (-chars % 4)
    step = (chars + len(fill)) // 4 * 3
    if not texts:
        return []
    if {len(t) for t in texts} != {chars}:
        return None
    joined = fill.join(texts) + fill
    if "+" in joined or "/" in joined or "=" in joined:
        return None
    try:
        raw = binascii.a2b_base64(joined.encode("ascii").translate(_TO_STD), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        return None
    if any(raw[j::step].count(0) != len(texts) for j in range(size, step)):
        return None
    return [raw[i : i + size] for i in range(0, len(raw), step)]


def iso(value: datetime | None) -> str | None:
    """An aware time as ISO 8601 in UTC with a ``Z``; ``None`` stays ``None``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
