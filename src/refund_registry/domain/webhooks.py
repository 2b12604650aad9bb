"""Webhook endpoints and deliveries: URL rules, secrets, the retry schedule.

A member registers endpoints; every event of its feed is POSTed to each of
them, in feed order, as a Standard Webhooks message (``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` over ``id.timestamp.body`` with
HMAC-SHA256 and the endpoint's ``whsec_`` secret). An endpoint's later events
wait while an earlier one is failing, so its receiver sees the feed's order.

The schedule: after the first failed attempt of an event the next one comes
5 s later, then 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (each stretched by up
to 10 % of random jitter, never shortened), so the last of the
:data:`MAX_ATTEMPTS` attempts comes more than 27 hours after the first. When
that one fails too, or the receiver answers ``410 Gone``, the endpoint is
disabled; its position in the feed is kept, so enabling it again resumes with
the event that failed.

Pure: time and randomness are arguments.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from refund_registry.domain.wire import iso
from refund_registry.errors import Conflict, InvalidInput

MAX_ENDPOINTS: Final = 10
"""Endpoints one member may have registered at once (active or disabled)."""
URL_MAX: Final = 2048
"""Characters of an endpoint URL, at most."""
SECRET_BYTES: Final = 32
"""Random bytes of a signing secret (Standard Webhooks: 24 to 64)."""
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the prefix, not a secret
ROTATION_GRACE: Final = timedelta(hours=24)
"""How long after a rotation deliveries are signed with the old secret as well."""

RETRY_DELAYS: Final = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
"""The wait after failed attempt *n* (1-based) of one event, before jitter."""
MAX_ATTEMPTS: Final = len(RETRY_DELAYS) + 1
"""Attempts at one event; when the last fails, the endpoint is disabled."""
JITTER: Final = 0.1
"""Each wait is stretched by up to this fraction, at random: never shortened."""
MAX_RETRY_AFTER: Final = timedelta(hours=10)
"""A receiver's ``Retry-After`` lengthens a wait up to this much, never beyond."""
MAX_PAGE: Final = 1000
"""Delivery-log entries per page."""

GONE: Final = 410
DISABLED_EVENT: Final = "webhook.disabled"
REASON_EXHAUSTED: Final = "retries_exhausted"
REASON_GONE: Final = "gone"

_DIGITS = re.compile(r"[0-9]{1,20}")
_HOST = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


# -- endpoint URLs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndpointUrl:
    """A registered URL, taken apart: deliveries connect to ``host`` (once resolved)."""

    url: str
    scheme: str
    host: str
    port: int
    literal_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None


def _bad_url(detail: str) -> InvalidInput:
    return InvalidInput(detail, code="webhook.url")


def parse_url(raw: str, *, require_https: bool) -> EndpointUrl:
    """Check an endpoint URL's form: absolute ``https`` (``http`` when allowed), a host,
    no credentials or fragment, at most :data:`URL_MAX` characters.

    Where the host points is checked separately (:func:`address_allowed`), on
    every address it resolves to, at registration and again at each delivery.
    """
    if not 1 <= len(raw) <= URL_MAX:
        raise _bad_url(f"the URL must be 1 to {URL_MAX} characters")
    if raw != raw.strip() or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _bad_url("the URL must not contain spaces or control characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise _bad_url(f"the URL does not parse: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _bad_url("the URL must start with https://")
    if scheme == "http" and require_https:
        raise InvalidInput("endpoints must use https://", code="webhook.url_https")
    if parts.username is not None or parts.password is not None:
        raise _bad_url("the URL must not hold credentials; authenticate by the signature")
    if parts.fragment or raw.endswith("#"):
        raise _bad_url("the URL must not have a fragment")
    host = parts.hostname or ""
    if not host:
        raise _bad_url("the URL must name a host")
    host, literal = _host(host)
    default = 443 if scheme == "https" else 80
    return EndpointUrl(raw, scheme, host, port or default, literal)


def _host(
    host: str,
) -> tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """The host in its ASCII, lower-case form, and its address when it is a literal one."""
    try:
        return host, ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise _bad_url("the host name is not a valid domain name") from None
    if len(ascii_host) > 253 or not _HOST.fullmatch(ascii_host):
        raise _bad_url("the host name is not a valid domain name")
    ascii_host = ascii_host.lower().rstrip(".")
    if _DIGITS.fullmatch(ascii_host.replace(".", "")):
        # "2130706433" or "127.1": spellings of an address that resolvers accept.
        raise _bad_url("write an IP address in its usual dotted form")
    return ascii_host, None


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a delivery may connect to ``address``: a public unicast address.

    Refused: loopback, private, link-local, multicast, reserved, unspecified,
    shared (100.64/10) and documentation ranges; IPv4-mapped IPv6 addresses;
    6to4 and NAT64 addresses that embed a refused IPv4 address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not address_allowed(embedded):
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


# -- secrets ------------------------------------------------------------------------------


def format_secret(raw: bytes) -> str:
    """The secret as members see it once: ``whsec_`` and standard base64."""
    if not 24 <= len(raw) <= 64:
        raise ValueError("a signing secret holds 24 to 64 bytes")
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def seal(key: bytes, webhook_id: str, secret: bytes, nonce: bytes) -> bytes:
    """AES-256-GCM of a signing secret, bound to its endpoint id: ``nonce || ciphertext``.

    ``nonce`` is 12 fresh random bytes. Binding to the id means a sealed secret
    copied to another endpoint's row does not open there.
    """
    if len(nonce) != 12:
        raise ValueError("the nonce must be 12 bytes")
    return nonce + AESGCM(key).encrypt(nonce, secret, webhook_id.encode())


def unseal(key: bytes, webhook_id: str, sealed: bytes) -> bytes:
    """The signing secret of :func:`seal`; ValueError if it was not sealed for this id."""
    try:
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], webhook_id.encode())
    except InvalidTag:
        raise ValueError("the stored secret does not open with this key and id") from None


def signing_secrets(
    current: bytes, previous: bytes | None, previous_until: datetime | None, now: datetime
) -> list[bytes]:
    """The secrets a delivery at ``now`` is signed with: the current one, and the
    previous one until its grace period ends (both signatures are sent)."""
    if previous is not None and previous_until is not None and now < previous_until:
        return [current, previous]
    return [current]


# -- messages -----------------------------------------------------------------------------


def message_id(cursor: str) -> str:
    """``webhook-id`` of an event: the same at every attempt and every endpoint,
    so a receiver can deduplicate. No ``.``, as the signature scheme requires."""
    return "evt_" + cursor


def payload(item: dict[str, Any]) -> dict[str, Any]:
    """The body of a delivery: ``{type, timestamp, data}``, ``data`` the feed item."""
    return {"type": item["type"], "timestamp": item["at"], "data": item}


def feed_item(
    cursor: str,
    type_: str,
    at: datetime,
    report_id: str | None,
    appeal_id: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """An event as ``GET /v1/events`` shows it (the ``data`` of a delivery)."""
    return {
        "cursor": cursor,
        "type": type_,
        "at": iso(at),
        **({"report_id": report_id} if report_id else {}),
        **({"appeal_id": appeal_id} if appeal_id else {}),
        **data,
    }


# -- the retry schedule -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivered:
    """The receiver took the event: the endpoint moves on to the next one."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Attempt ``attempt`` failed; the next one is due at ``at``."""

    attempt: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Disable:
    """Attempt ``attempt`` failed for the last time (or the receiver is gone)."""

    attempt: int
    reason: str


Outcome = Delivered | Retry | Disable


def succeeded(status: int | None) -> bool:
    """A ``2xx`` answer is a delivery; anything else (redirects included) a failure."""
    return status is not None and 200 <= status <= 299


def retry_delay(attempt: int, jitter: float, retry_after: timedelta | None = None) -> timedelta:
    """The wait after failed attempt ``attempt`` (1 to ``MAX_ATTEMPTS - 1``).

    ``jitter`` in [0, 1] stretches the scheduled wait by up to :data:`JITTER`;
    a receiver's ``Retry-After`` may lengthen it, up to :data:`MAX_RETRY_AFTER`.
    """
    if not 1 <= attempt < MAX_ATTEMPTS:
        raise ValueError(f"attempt {attempt} has no retry after it")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be in [0, 1]")
    delay = RETRY_DELAYS[attempt - 1] * (1 + JITTER * jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def after_attempt(
    attempt: int,
    status: int | None,
    now: datetime,
    *,
    jitter: float,
    retry_after: timedelta | None = None,
) -> Outcome:
    """What follows attempt ``attempt`` (1-based) of one event, answered ``status``
    (None: no answer: timeout, refused connection, refused address, …)."""
    if not 1 <= attempt <= MAX_ATTEMPTS:
        raise ValueError(f"attempt must be 1 to {MAX_ATTEMPTS}")
    if succeeded(status):
        return Delivered()
    if status == GONE:
        return Disable(attempt, REASON_GONE)
    if attempt == MAX_ATTEMPTS:
        return Disable(attempt, REASON_EXHAUSTED)
    return Retry(attempt, now + retry_delay(attempt, jitter, retry_after))


def parse_retry_after(value: str | None) -> timedelta | None:
    """A ``Retry-After`` of whole seconds; an HTTP date or anything else is ignored."""
    if value is None or not _DIGITS.fullmatch(value.strip()):
        return None
    return timedelta(seconds=int(value.strip()))


# -- endpoint states and the delivery log -------------------------------------------------

ACTIVE: Final = "active"
DISABLED: Final = "disabled"


def check_room(registered: int) -> None:
    """A member with :data:`MAX_ENDPOINTS` endpoints must delete one before adding one."""
    if registered >= MAX_ENDPOINTS:
        raise Conflict(
            f"a member may register at most {MAX_ENDPOINTS} endpoints; delete one first",
            code="webhook.too_many",
        )


def parse_log_cursor(after: str) -> int:
    """The delivery-log id after which a page starts; 0 for the start."""
    if not after:
        return 0
    if not _DIGITS.fullmatch(after):
        raise InvalidInput("'after' must be a cursor from an earlier page", code="webhook.cursor")
    return int(after)


def check_page_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1 to {MAX_PAGE}", code="webhook.page_limit")
