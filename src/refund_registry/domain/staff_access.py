"""Who is on staff in the browser: one-time sign-in links, console sessions, sections.

Staff (adjudicators, members' staff, auditors) sign in to the console either
through the organisation's identity provider (OpenID Connect) or with a
one-time link the operator prints (``refund-registry console link``). Both end
in a console session bound to one registry principal; the principal's role
decides which sections the console shows.

Pure: randomness and time are arguments. Bearer values (link tokens, session
tokens) are never stored: only their SHA-256 under a domain label.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

LINK_LIFETIME: Final = timedelta(minutes=10)
SESSION_IDLE: Final = timedelta(minutes=30)
SESSION_ABSOLUTE: Final = timedelta(hours=8)
TOKEN_BYTES: Final = 32

LINK_PREFIX: Final = "rrl_"
SESSION_PREFIX: Final = "rrc_"
SESSION_ID_PREFIX: Final = "css_"
"""Public ids of console sessions: they name the session in the access log."""

_LINK_DOMAIN: Final = b"rr-staff-link/v1|"
_SESSION_DOMAIN: Final = b"rr-staff-session/v1|"


class Section(enum.Enum):
    """A part of the console; each shows to some roles only."""

    QUEUE = "queue"  # the adjudicator's work queue and case view
    INBOX = "inbox"  # a member's appeals awaiting its answer
    AUDIT = "audit"  # the auditor's console


SECTIONS: Final[dict[str, tuple[Section, ...]]] = {
    "adjudicator": (Section.QUEUE,),
    "member": (Section.INBOX,),
    "auditor": (Section.AUDIT,),
}
"""The sections of each role that may use the console at all, in menu order."""

STAFF_ROLES: Final = frozenset(SECTIONS)


def sections_for(role: str) -> tuple[Section, ...]:
    """The sections a role sees; none for a role that has no console (admin, portal)."""
    return SECTIONS.get(role, ())


def may_sign_in(role: str, status: str) -> bool:
    """Only an active principal of a role with a console may open a console session."""
    return status == "active" and role in STAFF_ROLES


def link_digest(token: str) -> bytes:
    """The stored form of a sign-in link's token."""
    return hashlib.sha256(_LINK_DOMAIN + token.encode()).digest()


def session_digest(token: str) -> bytes:
    """The stored form of a console session's token: a leaked table opens nothing."""
    return hashlib.sha256(_SESSION_DOMAIN + token.encode()).digest()


def link_usable(issued_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    """A link opens one session, within :data:`LINK_LIFETIME` of being printed."""
    return used_at is None and issued_at <= now < issued_at + LINK_LIFETIME


@dataclass(frozen=True, slots=True)
class StaffSessionTimes:
    created_at: datetime
    last_seen_at: datetime

    def expires_at(self) -> datetime:
        """:data:`SESSION_IDLE` after the last request or :data:`SESSION_ABSOLUTE` after
        sign-in, whichever comes first."""
        return min(self.created_at + SESSION_ABSOLUTE, self.last_seen_at + SESSION_IDLE)

    def is_live(self, now: datetime) -> bool:
        return self.created_at <= now < self.expires_at()

    def touched(self, now: datetime) -> StaffSessionTimes:
        """After a request at ``now``; the absolute end never moves."""
        return StaffSessionTimes(self.created_at, max(self.last_seen_at, now))
