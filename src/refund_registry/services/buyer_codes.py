"""One-time sign-in codes at the service's edge: how often, what the buyer receives, and
how a code is refused.

The code itself (its form, keyed hash, lifetime and tries) is the pure rule of
``domain.buyer_access``; ``services.buyer_signin`` sends and checks codes with
what is here. Sending limits (documented in ``docs/buyers.md``): per
identifier, one code per :data:`CODE_PACING` and
:data:`CODES_PER_IDENTIFIER_PER_DAY` a day; per client address,
:data:`CODES_PER_ADDRESS_PER_SECOND` a second and
:data:`CODES_PER_ADDRESS_PER_DAY` a day.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Final, Protocol

from refund_registry.domain import buyer_access as rules
from refund_registry.errors import AuthenticationFailed, RateLimited
from refund_registry.i18n import N_, gettext

KINDS: Final = ("phone", "email")
"""The identifiers a buyer can receive a code at."""

CODE_PACING: Final = timedelta(seconds=60)
CODES_PER_IDENTIFIER_PER_DAY: Final = 10
CODES_PER_ADDRESS_PER_SECOND: Final = 2
CODES_PER_ADDRESS_PER_DAY: Final = 100

CODE_SUBJECT: Final = N_("Refund Registry code %(code)s")
CODE_TEXT: Final = N_(
    "Refund Registry code %(code)s, valid for %(minutes)s minutes. Do not share it."
)


class CodeSender(Protocol):
    """One channel for codes: SMTP, the SMS gateway, or the zero-setup outbox."""

    async def send(self, to: str, subject: str, body: str) -> None: ...


def code_message(code: str, language: str = "zh-CN") -> tuple[str, str]:
    """The subject and text of a code message in ``language`` (``zh-CN`` or ``en``): the
    language the buyer asked for the code in (the portal's switch, or ``Accept-Language``)."""
    values = {"code": code, "minutes": int(rules.CODE_LIFETIME.total_seconds() // 60)}
    return gettext(language, CODE_SUBJECT) % values, gettext(language, CODE_TEXT) % values


def limit_subject(subject_key: bytes) -> str:
    """The rate-limit key of an identifier: a hash of its subject key, nothing readable."""
    return hashlib.sha256(b"rr-code-limit|" + subject_key).hexdigest()[:32]


def rate_limited(exc: RateLimited) -> RateLimited:
    """The refusal of a code over a per-identifier or per-address limit."""
    return RateLimited(
        "too many codes asked for; try again later",
        retry_after=exc.retry_after,
        code="buyer.code_rate_limited",
    )


def too_soon(issued: datetime, now: datetime) -> RateLimited:
    """The refusal of a code asked for within :data:`CODE_PACING` of the last one."""
    wait = max(1, int((issued + CODE_PACING - now).total_seconds()) + 1)
    return RateLimited(
        "a code was sent moments ago; wait before asking for another",
        retry_after=wait,
        code="buyer.code_rate_limited",
    )


def code_refused(outcome: rules.CodeOutcome, tries_left: int | None) -> AuthenticationFailed:
    """The refusal of a code that was not accepted (or of a try with none pending)."""
    if outcome is rules.CodeOutcome.EXPIRED:
        return AuthenticationFailed(
            "the code has expired; ask for a new one", code="buyer.code_expired"
        )
    if outcome is rules.CodeOutcome.LOCKED:
        return AuthenticationFailed(
            "too many wrong tries: this code is locked; ask for a new one",
            code="buyer.code_locked",
        )
    return AuthenticationFailed(
        "the code is not the one sent",
        code="buyer.code_wrong",
        extra={"tries_left": tries_left} if tries_left is not None else None,
    )


__all__ = [
    "CODES_PER_ADDRESS_PER_DAY",
    "CODES_PER_ADDRESS_PER_SECOND",
    "CODES_PER_IDENTIFIER_PER_DAY",
    "CODE_PACING",
    "KINDS",
    "CodeSender",
    "code_message",
    "code_refused",
    "limit_subject",
    "rate_limited",
    "too_soon",
]
