"""Buyer sign-in: one-time codes, member hand-offs, and the sessions they open.

Nobody acts as a buyer without proof that the buyer is there. Two ways in,
both ending in a buyer session bound to the subject keys proved
(``domain.buyer_access``: idle 15 minutes, at most one hour):

* **Direct.** The buyer gives a phone number or an e-mail address; the
  registry normalises it, derives its pseudonym from the key service as its
  own *portal* principal (role ``portal``, its own quota), and sends a
  six-digit code to it. The raw identifier is used for those two things
  only: it is never stored, logged, or put in a URL or a Redis key. The code
  is stored as a keyed hash under the identifier's subject key; it lives ten
  minutes and five wrong tries lock it.
* **Hand-off.** A member that reported or queried one of the buyer's
  pseudonyms within 12 months signs a subject token (at most ten minutes)
  naming them; it is exchanged once for a session that remembers the member
  (``via_member``), so everything done in it is recorded as done via that
  member.

Sending limits, the code message and the refusals of a code are in
``services.buyer_codes``; the key service is asked as the portal principal by
``services.portal_pseudonyms``. A refusal to send is 429
``buyer.code_rate_limited`` with ``Retry-After``, identical whether or not
anything is on record about the identifier (nothing here ever looks).

Rate limits keep the fallback of ``storage.ratelimit`` when Redis is down
(per-process counting); the pacing between two codes and the five tries are
kept in PostgreSQL and do not depend on Redis.

Expired codes, sessions and used hand-off ids are deleted as codes are sent
and sessions opened (at most :data:`PURGE_BATCH` of each every time), and an
expired session as soon as it is presented, so no separate duty is needed;
:meth:`BuyerSignIn.purge` does the same on demand.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

import asyncpg

from refund_registry.domain import buyer_access as rules
from refund_registry.domain import identity
from refund_registry.domain.keyring import Keyring
from refund_registry.errors import AuthenticationFailed, Forbidden, InvalidInput, RateLimited
from refund_registry.services.authn import Authenticator
from refund_registry.services.buyer_codes import (
    CODE_PACING,
    KINDS,
    CodeSender,
    code_message,
    code_refused,
    limit_subject,
    rate_limited,
    too_soon,
)
from refund_registry.services.parties import Subject
from refund_registry.services.subject_access import subject_keys
from refund_registry.storage import buyer_sessions as store
from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translated
from refund_registry.storage.ratelimit import RateLimiter

PURGE_BATCH: Final = 500

SESSION_PREFIX: Final = "rrs_"
"""Session values start with this, so one is never mistaken for a JWS (which has dots)."""


@dataclass(frozen=True)
class OpenedSession:
    """A new buyer session: the bearer value (shown once), its absolute end, and
    the member that handed the buyer over (None: signed in with a code)."""

    session: str
    expires_at: datetime
    via_member: str | None


class Pseudonyms(Protocol):
    """Derives the 64-byte pseudonym of a normalised identifier."""

    async def pseudonym(self, kind: str, normalised: str) -> bytes: ...

    async def close(self) -> None: ...


def _session_expired() -> AuthenticationFailed:
    return AuthenticationFailed(
        "the buyer session has ended (15 minutes idle, or 1 hour); sign in again",
        code="buyer.session_expired",
    )


def _session_unknown() -> AuthenticationFailed:
    return AuthenticationFailed(
        "no such buyer session (signed out, or never opened); sign in again",
        code="buyer.session_unknown",
    )


class BuyerSignIn:
    """The sign-in use cases; one instance per process (``rt.parts.buyers``).

    ``clock`` is read once per use case (tests move it). ``channels`` maps
    ``phone`` and ``email`` to their code senders.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        keyring: Keyring,
        auth: Authenticator,
        pseudonyms: Pseudonyms,
        channels: Mapping[str, CodeSender],
        code_key: bytes,
        *,
        identifier_limiter: RateLimiter,
        address_limiter: RateLimiter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool = pool
        self.keyring = keyring
        self.auth = auth
        self.pseudonyms = pseudonyms
        self.channels = dict(channels)
        self.code_key = code_key
        self.identifier_limiter = identifier_limiter
        self.address_limiter = address_limiter
        self.clock = clock

    # -- direct sign-in -----------------------------------------------------------------

    @staticmethod
    def _normalise(kind: str, value: str) -> str:
        """The identifier as the pseudonym is derived from it; refusals name the field."""
        if kind not in KINDS:
            raise InvalidInput(
                "kind must be phone or email", code="buyer.kind", extra={"field": "kind"}
            )
        try:
            return identity.normalise(kind, value)
        except identity.IdentifierRejected as exc:
            # The detail never contains the value.
            raise InvalidInput(
                exc.detail,
                code="buyer.value",
                extra={"field": "value", "kind": kind, "rule": exc.rule},
            ) from None

    async def _subject_key(self, kind: str, normalised: str) -> bytes:
        return self.keyring.subject_key(await self.pseudonyms.pseudonym(kind, normalised))

    async def send_code(
        self, kind: str, value: str, client_address: str, *, language: str = "zh-CN"
    ) -> None:
        """Send a fresh code to this phone number or e-mail address, in ``language``.

        The same answer whether or not anything is on record: nothing here
        looks. A new code replaces the pending one (and its tries), at most
        once per :data:`CODE_PACING`. Raises ``InvalidInput`` (``buyer.kind``,
        ``buyer.value``), ``RateLimited`` (``buyer.code_rate_limited``), or
        ``Unavailable`` when the key service or the channel is down.
        """
        normalised = self._normalise(kind, value)
        try:
            await self.address_limiter.acquire(client_address or "unknown", 1)
        except RateLimited as exc:
            raise rate_limited(exc) from None
        subject_key = await self._subject_key(kind, normalised)
        now = self.clock()
        async with translated(), self.pool.acquire() as conn:
            issued = await store.code_issued_at(conn, subject_key)
        if issued is not None and now < issued + CODE_PACING:
            raise too_soon(issued, now)
        try:
            await self.identifier_limiter.acquire(limit_subject(subject_key), 1)
        except RateLimited as exc:
            raise rate_limited(exc) from None
        code = rules.new_code(secrets.token_bytes(rules.CODE_RANDOM_BYTES))
        async with translated(), self.pool.acquire() as conn:
            stored = await store.put_code(
                conn,
                subject_key,
                rules.code_digest(self.code_key, subject_key, code),
                issued_at=now,
                expires_at=now + rules.CODE_LIFETIME,
                replaceable_before=now - CODE_PACING,
            )
            if not stored:  # another request sent one a moment ago
                raise too_soon(now, now)
            await self._purge(conn, now)
        subject, body = code_message(code, language)
        await self.channels[kind].send(normalised, subject, body)

    async def open_with_code(self, kind: str, value: str, code: str) -> OpenedSession:
        """Open a session for the identifier the code was sent to.

        A wrong try is counted before the answer leaves (the fifth locks the
        code); concurrent tries on one code queue on its row. Raises
        ``AuthenticationFailed`` with ``buyer.code_wrong`` (also when no code
        is pending for this identifier), ``buyer.code_expired`` or
        ``buyer.code_locked``.
        """
        normalised = self._normalise(kind, value)
        subject_key = await self._subject_key(kind, normalised)
        now = self.clock()
        outcome = rules.CodeOutcome.WRONG
        tries_left: int | None = None
        opened: OpenedSession | None = None
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            row = await store.lock_code(conn, subject_key)
            if row is not None:
                issued = rules.IssuedCode(subject_key, row.digest, row.issued_at, row.tries)
                outcome, after = rules.check_code(issued, self.code_key, code, now)
                tries_left = after.tries_left
                if outcome is rules.CodeOutcome.ACCEPTED:
                    await store.delete_code(conn, subject_key)
                    opened = await self._open(conn, (subject_key,), None, now)
                elif after.tries != row.tries:
                    await store.set_tries(conn, subject_key, after.tries)
        # The try is committed before the refusal is raised.
        if opened is not None:
            return opened
        raise code_refused(outcome, tries_left)

    # -- hand-off -----------------------------------------------------------------------

    async def open_with_handoff(self, token: str) -> OpenedSession:
        """Exchange a member's subject token, once, for a session via that member.

        Raises ``AuthenticationFailed`` for a token that fails a check (the
        ``auth.*`` codes of subject tokens; ``subject.handoff_used`` when it
        was exchanged before) and ``Forbidden`` (``subject.no_relationship``)
        when the member neither reported nor queried any of its pseudonyms
        within 12 months. A refused token is not used up.
        """
        caller, pseudonyms = await self.auth.subject(f"Bearer {token}")
        keys = subject_keys(self.keyring, pseudonyms)
        iat, exp = int(caller.claims["iat"]), int(caller.claims["exp"])
        if not rules.handoff_lifetime_ok(
            datetime.fromtimestamp(iat, UTC), datetime.fromtimestamp(exp, UTC)
        ):
            raise AuthenticationFailed(
                "a subject token lives at most 10 minutes", code="auth.lifetime"
            )
        now = self.clock()
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            last = await store.last_contact(
                conn, caller.principal_id, keys, now - rules.RELATIONSHIP_WINDOW
            )
            if not rules.has_relationship(last, now):
                raise Forbidden(
                    "this member has neither reported nor queried this buyer in the last 12 months",
                    code="subject.no_relationship",
                )
            keep_until = datetime.fromtimestamp(exp + self.auth.leeway + 1, UTC)
            if not await store.claim_handoff(
                conn, caller.principal_id, caller.jti, used_at=now, keep_until=keep_until
            ):
                raise AuthenticationFailed(
                    "this subject token was exchanged before; ask the member for a new one",
                    code="subject.handoff_used",
                )
            return await self._open(conn, keys, caller.principal_id, now)

    # -- sessions -----------------------------------------------------------------------

    async def _open(
        self, conn: Conn, keys: tuple[bytes, ...], via: str | None, now: datetime
    ) -> OpenedSession:
        token = SESSION_PREFIX + secrets.token_urlsafe(rules.SESSION_TOKEN_BYTES)
        expires_at = now + rules.SESSION_ABSOLUTE
        await store.insert_session(
            conn,
            session_id="bss_" + secrets.token_hex(10),
            digest=rules.session_digest(token.encode("ascii")),
            subject_keys=keys,
            via_member=via,
            created_at=now,
            expires_at=expires_at,
        )
        await self._purge(conn, now)
        return OpenedSession(session=token, expires_at=expires_at, via_member=via)

    async def resume(self, session: str) -> Subject:
        """The buyer of a live session; records this request as its latest activity.

        Raises ``AuthenticationFailed``: ``buyer.session_unknown`` (never
        opened, closed, or not a session value), ``buyer.session_expired``
        (idle 15 minutes, or an hour old; the row is deleted then).
        """
        if not session.startswith(SESSION_PREFIX) or len(session) > 200:
            raise _session_unknown()
        digest = rules.session_digest(session.encode("ascii", "replace"))
        now = self.clock()
        async with translated(), self.pool.acquire() as conn:
            row = await store.session_by_digest(conn, digest)
            if row is None:
                raise _session_unknown()
            if not rules.SessionTimes(row.created_at, row.last_seen_at).is_live(now):
                await store.delete_session_id(conn, row.id)
                raise _session_expired()
            await store.touch_session(conn, row.id, now)
        return Subject(keys=row.subject_keys, session_id=row.id, via_member=row.via_member)

    async def close(self, session: str) -> None:
        """End a session; closing one that is unknown or over already is not an error."""
        if not session.startswith(SESSION_PREFIX) or len(session) > 200:
            return
        async with translated(), self.pool.acquire() as conn:
            await store.delete_session(
                conn, rules.session_digest(session.encode("ascii", "replace"))
            )

    # -- housekeeping -------------------------------------------------------------------

    async def _purge(self, conn: Conn, now: datetime) -> int:
        return await store.purge(
            conn,
            now=now,
            idle_before=now - rules.SESSION_IDLE,
            handoffs_before=now,
            limit=PURGE_BATCH,
        )

    async def purge(self, now: datetime | None = None) -> int:
        """Delete expired codes, sessions and used hand-off ids (a batch of each)."""
        async with translated(), self.pool.acquire() as conn:
            return await self._purge(conn, now or self.clock())

    async def aclose(self) -> None:
        await self.pseudonyms.close()


__all__ = ["BuyerSignIn", "OpenedSession", "Pseudonyms"]
