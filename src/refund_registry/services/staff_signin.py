"""Staff sign-in: one-time links, identity-provider subjects, and console sessions.

Two ways into the staff console, both ending in a console session bound to
one registry principal (``domain.staff_access``: idle 30 minutes, at most 8
hours):

* **One-time link.** The operator prints one for an existing, active
  principal (``refund-registry console link``): single use, 10 minutes.
* **OpenID Connect.** The organisation's identity provider vouches for a
  subject; the subject must be mapped to a principal beforehand
  (``refund-registry console map-oidc``). The protocol itself is the web
  layer's (``web/console/oidc.py``); this module maps and opens.

Every request in a session reads the principal afresh: a principal that is
suspended or revoked loses its console at once, whatever its sessions'
remaining time. A session acts as a :class:`~refund_registry.services.authn.Caller`
with ``via="console"`` and the session's public id as its request, so each
action goes through the same use cases as the API and is logged, attributed
to the principal, as console work.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import asyncpg

from refund_registry.domain import staff_access as rules
from refund_registry.errors import AuthenticationFailed, Forbidden, InvalidInput, NotFound
from refund_registry.services.authn import Caller
from refund_registry.storage import staff_sessions as store
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translated

log = logging.getLogger("refund_registry.staff_signin")

PURGE_BATCH: Final = 500
CONSOLE: Final = "console"
"""The ``via`` of every access-log entry written for console work."""


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    """A principal signed in to the console, as the guard hands it to a page."""

    principal_id: str
    role: str
    name: str
    session_id: str

    @property
    def sections(self) -> tuple[rules.Section, ...]:
        return rules.sections_for(self.role)

    def caller(self) -> Caller:
        """The principal as the use cases know callers: console work, this session."""
        return Caller(
            principal_id=self.principal_id,
            role=self.role,
            name=self.name,
            kid=CONSOLE,
            jti=self.session_id,
            request_digest=self.session_id,
            claims={},
            via=CONSOLE,
        )


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    principal_id: str
    name: str
    role: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OpenedStaffSession:
    session: str  # the bearer value, shown once (to the cookie)
    session_id: str
    principal_id: str
    expires_at: datetime


def link_refused() -> AuthenticationFailed:
    return AuthenticationFailed(
        "this sign-in link is unknown, was used already or has expired; ask for a new one",
        code="console.link_invalid",
    )


def session_ended() -> AuthenticationFailed:
    return AuthenticationFailed(
        "the console session has ended (30 minutes idle, or 8 hours); sign in again",
        code="console.session_expired",
    )


def principal_refused(principal_id: str) -> Forbidden:
    return Forbidden(
        f"principal {principal_id!r} is not active or has no console",
        code="console.principal_inactive",
    )


class StaffSignIn:
    """The staff sign-in use cases; one per process (``rt.parts.staff``)."""

    def __init__(
        self, pool: asyncpg.Pool, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.pool = pool
        self.clock = clock

    async def issue_link(self, principal_id: str) -> IssuedLink:
        """A one-time sign-in link for an existing, active principal with a console."""
        now = self.clock()
        token = rules.LINK_PREFIX + secrets.token_urlsafe(rules.TOKEN_BYTES)
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            who = await store.principal(conn, principal_id)
            if who is None:
                raise NotFound(f"no principal {principal_id!r}", code="principal.not_found")
            if not rules.may_sign_in(who.role, who.status):
                raise principal_refused(principal_id)
            expires_at = now + rules.LINK_LIFETIME
            await store.insert_link(
                conn, rules.link_digest(token), who.id, issued_at=now, expires_at=expires_at
            )
            await store.purge(
                conn, now=now, idle_before=now - rules.SESSION_IDLE, limit=PURGE_BATCH
            )
        return IssuedLink(token, who.id, who.name, who.role, expires_at)

    async def open_with_link(self, token: str) -> OpenedStaffSession:
        """Use a link up and open a session for its principal (if still active)."""
        if not token.startswith(rules.LINK_PREFIX) or len(token) > 200:
            raise link_refused()
        now = self.clock()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            principal_id = await store.use_link(conn, rules.link_digest(token), now)
            if principal_id is None:
                raise link_refused()
            return await self._open(conn, principal_id, "link", now)

    async def open_for_subject(self, issuer: str, subject: str) -> OpenedStaffSession:
        """Open a session for the principal an identity provider's subject is mapped to."""
        now = self.clock()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            principal_id = await store.principal_of_subject(conn, issuer, subject)
            if principal_id is None:
                raise Forbidden(
                    "this identity-provider account is not mapped to a registry principal",
                    code="console.oidc_unmapped",
                )
            return await self._open(conn, principal_id, "oidc", now)

    async def _open(
        self, conn: Conn, principal_id: str, method: str, now: datetime
    ) -> OpenedStaffSession:
        who = await store.principal(conn, principal_id)
        if who is None or not rules.may_sign_in(who.role, who.status):
            raise principal_refused(principal_id)
        token = rules.SESSION_PREFIX + secrets.token_urlsafe(rules.TOKEN_BYTES)
        session_id = rules.SESSION_ID_PREFIX + secrets.token_hex(10)
        expires_at = now + rules.SESSION_ABSOLUTE
        await store.insert_session(
            conn,
            session_id=session_id,
            digest=rules.session_digest(token),
            principal_id=who.id,
            method=method,
            created_at=now,
            expires_at=expires_at,
        )
        log.info(
            "console session opened",
            extra={"principal": who.id, "session": session_id, "method": method},
        )
        return OpenedStaffSession(token, session_id, who.id, expires_at)

    async def resume(self, session: str) -> StaffIdentity:
        """The principal of a live session; the session is ended if it has run out,
        and refused at once if its principal is no longer active."""
        if not session.startswith(rules.SESSION_PREFIX) or len(session) > 200:
            raise session_ended()
        now = self.clock()
        digest = rules.session_digest(session)
        async with translated(), self.pool.acquire() as conn:
            stored = await store.session_by_digest(conn, digest)
            if stored is None:
                raise session_ended()
            times = rules.StaffSessionTimes(stored.created_at, stored.last_seen_at)
            who = stored.principal
            if not times.is_live(now) or not rules.may_sign_in(who.role, who.status):
                await store.delete_session(conn, digest)
                if not times.is_live(now):
                    raise session_ended()
                raise principal_refused(who.id)
            await store.touch_session(conn, stored.id, now)
        return StaffIdentity(who.id, who.role, who.name, stored.id)

    async def close(self, session: str) -> None:
        async with translated(), self.pool.acquire() as conn:
            await store.delete_session(conn, rules.session_digest(session))

    async def names(self, principal_ids: set[str]) -> dict[str, str]:
        """The display names of these principals (members in a queue, say)."""
        found: dict[str, str] = {}
        async with translated(), self.pool.acquire() as conn:
            for principal_id in sorted(principal_ids):
                who = await store.principal(conn, principal_id)
                if who is not None:
                    found[who.id] = who.name
        return found

    # -- identity-provider subjects ---------------------------------------------------------

    async def map_subject(self, issuer: str, subject: str, principal_id: str) -> dict[str, str]:
        """Let an identity provider's subject sign in as this principal (an operator's act)."""
        issuer, subject = issuer.strip(), subject.strip()
        if not 1 <= len(issuer) <= 500 or not 1 <= len(subject) <= 255:
            raise InvalidInput(
                "issuer must be 1 to 500 characters and subject 1 to 255",
                code="console.oidc_subject",
            )
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            who = await store.principal(conn, principal_id)
            if who is None:
                raise NotFound(f"no principal {principal_id!r}", code="principal.not_found")
            if who.role not in rules.STAFF_ROLES:
                raise principal_refused(principal_id)
            await store.map_subject(conn, issuer, subject, principal_id)
        return {"issuer": issuer, "subject": subject, "principal_id": principal_id}

    async def unmap_subject(self, issuer: str, subject: str) -> dict[str, str]:
        async with translated(), self.pool.acquire() as conn:
            principal_id = await store.unmap_subject(conn, issuer, subject)
        if principal_id is None:
            raise NotFound("no such mapping", code="console.oidc_no_mapping")
        return {"issuer": issuer, "subject": subject, "principal_id": principal_id}

    # -- OpenID Connect sign-ins in progress ------------------------------------------------

    async def remember_login(
        self, *, state: str, binding: bytes, nonce: str, code_verifier: str
    ) -> None:
        now = self.clock()
        async with translated(), self.pool.acquire() as conn:
            await store.insert_login(
                conn,
                state=state,
                binding=binding,
                nonce=nonce,
                code_verifier=code_verifier,
                created_at=now,
                expires_at=now + rules.LINK_LIFETIME,
            )

    async def take_login(self, state: str) -> store.PendingLogin | None:
        """The pending sign-in of ``state`` (used up now); None if unknown or expired."""
        if not 16 <= len(state) <= 128:
            return None
        now = self.clock()
        async with translated(), self.pool.acquire() as conn:
            pending = await store.take_login(conn, state)
        if pending is None or pending.expires_at <= now:
            return None
        return pending
