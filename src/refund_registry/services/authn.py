"""Who is calling: verifies signed requests and subject tokens.

Keys are read from PostgreSQL once and kept in memory; a ``NOTIFY`` from the
principals tables (a key added or revoked, a principal suspended) clears the
cache in every process at once, and entries also age out after
``principal_cache_seconds`` in case a notification was missed while the
listening connection was down.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from cryptography.hazmat.primitives import serialization

from refund_registry.domain import tokens
from refund_registry.domain.buyer_access import HANDOFF_MAX_LIFETIME
from refund_registry.domain.keyring import PublicKey
from refund_registry.domain.reports import MAX_IDENTIFIERS
from refund_registry.errors import Forbidden
from refund_registry.storage.cache import ReplayGuard

HANDOFF_SECONDS = int(HANDOFF_MAX_LIFETIME.total_seconds())
"""The longest a subject token may live (``exp - iat``), in seconds."""


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    principal_id: str
    role: str
    name: str
    alg: str
    key: PublicKey
    usable: bool  # key not revoked and principal active
    refusal: str  # why not, when not usable


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal and the request that proved it."""

    principal_id: str
    role: str
    name: str
    kid: str
    jti: str
    request_digest: str  # SHA-256 (b64url) of the token's signing input, header.claims
    claims: dict[str, Any]
    via: str | None = None  # "console": acting in a staff console session, not a signed request


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A signed request whose headers passed every check; its body is not read yet."""

    record: KeyRecord
    verified: tokens.VerifiedClaims


KeyLoader = Callable[[str], Awaitable[dict[str, Any] | None]]


UNKNOWN_KIDS_KEPT = 10_000
"""How many unknown ``kid``s the negative cache remembers (least recently used go first)."""


class KeyCache:
    """Registered keys by ``kid``, and a bounded negative cache of unknown ones.

    Known keys are as many as the registry has registered, so they are kept
    in a plain dict. Unknown ``kid``s are chosen by whoever sends a token: they
    go into a separate :class:`cachetools.TTLCache` of at most
    ``UNKNOWN_KIDS_KEPT`` entries, so a flood of made-up ``kid``s evicts only
    other made-up ones and never the registered keys that real callers use.
    """

    def __init__(
        self,
        loader: KeyLoader,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        unknown_kept: int = UNKNOWN_KIDS_KEPT,
    ):
        self._loader = loader
        self._ttl = ttl
        self._clock = clock
        self._known: dict[str, tuple[float, KeyRecord]] = {}
        self._unknown: TTLCache[str, bool] = TTLCache(maxsize=unknown_kept, ttl=ttl, timer=clock)

    def clear(self) -> None:
        self._known.clear()
        self._unknown.clear()

    @property
    def sizes(self) -> tuple[int, int]:
        """(known keys, unknown kids) held now."""
        return len(self._known), len(self._unknown)

    async def get(self, kid: str) -> KeyRecord | None:
        now = self._clock()
        hit = self._known.get(kid)
        if hit is not None and hit[0] > now:
            return hit[1]
        if kid in self._unknown:
            return None
        row = await self._loader(kid)
        if not row:
            self._unknown[kid] = True
            self._known.pop(kid, None)
            return None
        record = _to_record(row)
        self._known[kid] = (now + self._ttl, record)
        return record


def _to_record(row: dict[str, Any]) -> KeyRecord:
    key = serialization.load_pem_public_key(row["public_key_pem"].encode())
    refusal = ""
    if row["revoked_at"] is not None:
        refusal = "key_revoked"
    elif row["status"] != "active":
        refusal = "principal_inactive"
    return KeyRecord(
        kid=row["kid"],
        principal_id=row["principal_id"],
        role=row["role"],
        name=row["name"],
        alg=row["alg"],
        key=key,  # type: ignore[arg-type]
        usable=not refusal,
        refusal=refusal,
    )


class Authenticator:
    def __init__(
        self,
        keys: KeyCache,
        replay: ReplayGuard,
        *,
        audience: str,
        leeway: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.replay = replay
        self.audience = audience
        self.leeway = leeway
        self.clock = clock

    async def _key_for(self, head: tokens.Unverified) -> KeyRecord:
        record = await self.keys.get(head.kid)
        if record is None:
            raise tokens.fail("unknown_key", "'kid' does not name a registered key")
        if record.principal_id != head.iss:
            raise tokens.fail("key_mismatch", "the key named by 'kid' does not belong to 'iss'")
        if not record.usable:
            detail = {
                "key_revoked": "this key has been revoked",
                "principal_inactive": "this principal is suspended or revoked",
            }[record.refusal]
            raise tokens.fail(record.refusal, detail)
        return record

    def _verify(
        self,
        token: str,
        head: tokens.Unverified,
        record: KeyRecord,
        max_lifetime: int,
        required: tuple[str, ...],
    ) -> tokens.VerifiedClaims:
        """Signature, audience and times of a token, by the key its head named."""
        return tokens.verify(
            token,
            head=head,
            key_principal=record.principal_id,
            key_alg=record.alg,
            key=record.key,
            audience=self.audience,
            now=self.clock(),
            leeway=self.leeway,
            max_lifetime=max_lifetime,
            required=required,
        )

    async def request(
        self,
        authorization: str | None,
        *,
        method: str,
        path_and_query: str,
        body: bytes,
        roles: frozenset[str],
    ) -> Caller:
        """Authenticate a signed request and check that its role may use the route.

        Both phases at once, for a caller that already holds the body.
        """
        pending = await self.request_head(
            authorization, method=method, path_and_query=path_and_query, roles=roles
        )
        return await self.request_body(pending, body)

    async def request_head(
        self,
        authorization: str | None,
        *,
        method: str,
        path_and_query: str,
        roles: frozenset[str],
    ) -> PendingRequest:
        """Everything the headers alone can prove, checked before any body is read.

        The token's form and ``typ``, its key (``kid`` of ``iss``, usable), the
        signature, audience and times, ``htm`` and ``htu``, and the caller's
        role: a request failing any of these is refused without its body
        being read. Nothing is consumed here.
        """
        token = _bearer(authorization)
        head = tokens.peek(token, tokens.REQUEST_TYP)
        record = await self._key_for(head)
        verified = self._verify(
            token, head, record, tokens.REQUEST_MAX_LIFETIME, ("htm", "htu", "bsh")
        )
        tokens.check_request_target(verified.claims, method=method, path_and_query=path_and_query)
        if record.role not in roles:
            raise Forbidden(
                f"role {record.role!r} may not use this route", code="auth.forbidden_role"
            )
        return PendingRequest(record=record, verified=verified)

    async def request_body(self, pending: PendingRequest, body: bytes) -> Caller:
        """The body phase: ``bsh`` must match the bytes read, then ``jti`` is used up.

        The ``jti`` is claimed last, once every other check has passed, so a
        token refused for any reason (a forged one, a body that does not
        match or was too large) never burns it.
        """
        verified, record = pending.verified, pending.record
        tokens.check_body_digest(verified.claims, body)
        ttl = int(verified.exp - self.clock()) + self.leeway + 1
        if not await self.replay.claim(f"{verified.iss}:{verified.jti}", ttl, verified.iat):
            raise tokens.fail("replayed", "this token's 'jti' has already been used")
        return Caller(
            principal_id=record.principal_id,
            role=record.role,
            name=record.name,
            kid=record.kid,
            jti=verified.jti,
            request_digest=verified.signing_digest,
            claims=dict(verified.claims),
        )

    async def subject(self, authorization: str | None) -> tuple[Caller, list[dict[str, str]]]:
        """Verify a subject token; return the issuing member and the pseudonyms it names.

        A subject token is a hand-off: it lives at most ten minutes and is
        exchanged once for a buyer session (``services.buyer_signin``), which
        records its ``jti`` in PostgreSQL in the same transaction as the new
        session; it is therefore not burnt here, where a refusal that follows
        (no relationship) must not use it up. It cannot be used on member
        routes because its ``typ`` differs, nor on buyer routes, which take a
        session.
        """
        token = _bearer(authorization)
        head = tokens.peek(token, tokens.SUBJECT_TYP)
        record = await self._key_for(head)
        if record.role != "member":
            raise tokens.fail("issuer_not_member", "subject tokens are issued by members only")
        verified = self._verify(token, head, record, HANDOFF_SECONDS, ("pseudonyms",))
        pseudonyms = verified.claims["pseudonyms"]
        if (
            not isinstance(pseudonyms, list)
            or not 1 <= len(pseudonyms) <= MAX_IDENTIFIERS
            or not all(
                isinstance(p, dict)
                and isinstance(p.get("kind"), str)
                and isinstance(p.get("value"), str)
                for p in pseudonyms
            )
        ):
            raise tokens.fail(
                "malformed", "'pseudonyms' must list 1 to 10 objects with 'kind' and 'value'"
            )
        caller = Caller(
            principal_id=record.principal_id,
            role="buyer",
            name=record.name,
            kid=record.kid,
            jti=verified.jti,
            request_digest=verified.signing_digest,
            claims=dict(verified.claims),
        )
        return caller, [{"kind": p["kind"], "value": p["value"]} for p in pseudonyms]


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise tokens.fail("missing", "send 'Authorization: Bearer <signed JWT>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise tokens.fail("missing", "the Authorization header must use the Bearer scheme")
    return token.strip()
