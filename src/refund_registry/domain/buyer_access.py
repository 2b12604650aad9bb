"""Who is the buyer: one-time codes, buyer sessions and member hand-offs.

Nobody acts as a buyer without proof that the buyer is there. The proof is
either a one-time code sent to a phone number or e-mail address, or a
single-use hand-off from a member that has a relationship with the buyer
(it reported or queried one of the buyer's pseudonyms within the window).
Both end in a short session bound to the pseudonyms proved.

Pure: randomness and time are arguments. The raw identifier never reaches this
module; a code is bound to the identifier's subject key (the registry's keyed
hash of its pseudonym) and stored only as a keyed hash of both.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=10)
CODE_MAX_TRIES = 5
CODE_RANDOM_BYTES = 8
"""Eight random bytes reduced modulo 10⁶: the bias is below 10⁻¹³, far under a guess."""

SESSION_IDLE = timedelta(minutes=15)
SESSION_ABSOLUTE = timedelta(hours=1)
SESSION_TOKEN_BYTES = 32

HANDOFF_MAX_LIFETIME = timedelta(minutes=10)
RELATIONSHIP_WINDOW = timedelta(days=365)

_CODE_DOMAIN = b"rr-buyer-code/v1"
_SESSION_DOMAIN = b"rr-buyer-session/v1"


def new_code(random_bytes: bytes) -> str:
    """A zero-padded decimal code of :data:`CODE_DIGITS` digits from CSPRNG bytes.

    Precondition: ``random_bytes`` holds exactly :data:`CODE_RANDOM_BYTES` bytes
    fresh from the operating system's generator.
    """
    if len(random_bytes) != CODE_RANDOM_BYTES:
        raise ValueError(f"a code needs exactly {CODE_RANDOM_BYTES} random bytes")
    value = int.from_bytes(random_bytes, "big") % 10**CODE_DIGITS
    return f"{value:0{CODE_DIGITS}d}"


def is_well_formed_code(code: str) -> bool:
    """Exactly :data:`CODE_DIGITS` ASCII digits (``str.isdigit`` would accept '²')."""
    return len(code) == CODE_DIGITS and all("0" <= c <= "9" for c in code)


def code_digest(key: bytes, subject_key: bytes, code: str) -> bytes:
    """The stored form of a code: HMAC-SHA256 over the subject key and the code.

    Binding the subject key in means a code sent to one identifier proves
    nothing about another, even if someone could write rows.
    """
    message = _CODE_DOMAIN + b"|" + subject_key + b"|" + code.encode("ascii")
    return hmac.new(key, message, hashlib.sha256).digest()


class CodeOutcome(enum.Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A code waiting to be typed: its digest, when it was sent, failed tries so far."""

    subject_key: bytes
    digest: bytes
    issued_at: datetime
    tries: int = 0
    used: bool = False

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + CODE_LIFETIME

    @property
    def tries_left(self) -> int:
        return max(0, CODE_MAX_TRIES - self.tries)


def check_code(
    issued: IssuedCode, key: bytes, code: str, now: datetime
) -> tuple[CodeOutcome, IssuedCode]:
    """Judge one attempt; return the outcome and the code's state afterwards.

    Order matters: a locked or used code stays refused even with the right
    digits (no oracle after the limit), an expired one is refused before the
    comparison, and the comparison runs in constant time. Every attempt that
    is not accepted counts as a try, so the fifth wrong one locks the code.
    """
    if issued.used or issued.tries >= CODE_MAX_TRIES:
        return CodeOutcome.LOCKED, issued
    if now >= issued.expires_at:
        return CodeOutcome.EXPIRED, issued
    candidate = code_digest(key, issued.subject_key, code) if is_well_formed_code(code) else b""
    if hmac.compare_digest(candidate, issued.digest):
        return CodeOutcome.ACCEPTED, replace(issued, used=True)
    after = replace(issued, tries=issued.tries + 1)
    if after.tries >= CODE_MAX_TRIES:
        return CodeOutcome.LOCKED, after
    return CodeOutcome.WRONG, after


def session_digest(token: bytes) -> bytes:
    """The stored form of a session token: a leaked table opens no session."""
    return hashlib.sha256(_SESSION_DOMAIN + b"|" + token).digest()


@dataclass(frozen=True, slots=True)
class SessionTimes:
    created_at: datetime
    last_seen_at: datetime

    def expires_at(self) -> datetime:
        """Idle :data:`SESSION_IDLE` or :data:`SESSION_ABSOLUTE` after sign-in, whichever first."""
        return min(self.created_at + SESSION_ABSOLUTE, self.last_seen_at + SESSION_IDLE)

    def is_live(self, now: datetime) -> bool:
        return self.created_at <= now < self.expires_at()

    def touched(self, now: datetime) -> SessionTimes:
        """After a request at ``now``; never moves the absolute end."""
        return replace(self, last_seen_at=max(self.last_seen_at, now))


def handoff_lifetime_ok(issued_at: datetime, expires_at: datetime) -> bool:
    """A hand-off token lives at most :data:`HANDOFF_MAX_LIFETIME` and ends after it starts."""
    return issued_at < expires_at <= issued_at + HANDOFF_MAX_LIFETIME


def has_relationship(last_contact: datetime | None, now: datetime) -> bool:
    """Did the member report or query the buyer within :data:`RELATIONSHIP_WINDOW`?"""
    return last_contact is not None and last_contact >= now - RELATIONSHIP_WINDOW
