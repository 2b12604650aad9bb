"""Query parameters shared by the audit API's routes (``http/audit.py``, ``http/audit_export.py``).

Each check turns a parameter that is not what it claims to be into a 400
``request.invalid_query`` problem: an unknown or repeated name (a typo is
refused, not ignored), a hash that is not 32 bytes of unpadded base64url, a
time without a UTC offset or before 1970. An unknown action is a 400
``audit.action``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from litestar import Request

from refund_registry.domain.access import ACTIONS
from refund_registry.domain.audit_views import EntryFilter
from refund_registry.domain.reports import b64url_decode
from refund_registry.errors import InvalidInput, MalformedBody

QUERY_REFUSALS: Final = ("request.invalid_query",)
"""The problem code of a malformed query parameter, for the routes' OpenAPI answers."""

HASH_PATTERN: Final = r"^[A-Za-z0-9_-]{43}$"
"""A 32-byte hash in unpadded base64url, as a parameter's declared pattern."""


def malformed(detail: str) -> MalformedBody:
    return MalformedBody(detail, code="request.invalid_query")


def only_known_params(request: Request[Any, Any, Any], allowed: frozenset[str]) -> None:
    """Known parameter names only, each at most once: a typo is refused, not ignored."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name not in allowed:
            takes = ", ".join(sorted(allowed)) or "no parameters"
            raise malformed(f"unknown query parameter {name!r}; this route takes {takes}")
        if name in seen:
            raise malformed(f"query parameter {name!r} is given more than once")
        seen.add(name)


def hash_param(name: str, value: str | None) -> bytes | None:
    """The 32 bytes of a base64url hash parameter; ``None`` when it was not given."""
    if value is None:
        return None
    raw = b64url_decode(value)
    if raw is None or len(raw) != 32:
        raise malformed(f"{name} must be 32 bytes in unpadded base64url (43 characters)")
    return raw


def time_param(name: str, value: datetime | None) -> datetime | None:
    """A time parameter as given, provided it names its UTC offset and is after 1970."""
    if value is not None and (value.tzinfo is None or value.year < 1970):
        raise malformed(f"{name} must be an ISO 8601 time with a UTC offset, after 1970")
    return value


def entry_filter(
    *,
    member: str | None,
    subject_key: str | None,
    action: str | None,
    purpose: str | None,
    since: datetime | None,
    until: datetime | None,
) -> EntryFilter:
    """The filters of an entry listing or export, each parameter checked."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput(
            f"action must be one of {', '.join(sorted(ACTIONS))}", code="audit.action"
        )
    return EntryFilter(
        member=member,
        subject_key=hash_param("subject_key", subject_key),
        action=action,
        purpose=purpose,
        since=time_param("since", since),
        until=time_param("until", until),
    )
