"""How values are spelled on the wire: unpadded base64url and UTC times with ``Z``."""

from __future__ import annotations

import base64
from datetime import UTC, datetime


def b64url(data: bytes) -> str:
    """Unpadded base64url (SPEC section 10: binary values on the wire)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def iso(value: datetime | None) -> str | None:
    """An aware time as ISO 8601 in UTC with a ``Z``; ``None`` stays ``None``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
