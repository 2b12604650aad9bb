"""Verification of the signed tokens of SPEC section 10.

Pure: the caller supplies the registered key, the current time and the exact
request (method, path with query, body bytes); nothing here touches the
network, the database or the clock. Every refusal is an
``AuthenticationFailed`` whose ``code`` names the check that failed, so a
member's engineer can tell a clock problem from a signing bug at a glance.

Checks, in order: the token is a compact JWS; ``typ`` is the expected one;
``alg`` equals the algorithm pinned to the key (never ``none``, never HMAC);
``kid`` belongs to ``iss``; the signature verifies; ``aud``; ``iat``/``exp``
with a small leeway and a bounded lifetime; then the request binding
(``htm``, ``htu``, ``bsh``). ``jti`` single use is checked by the caller
after this succeeds, so a forged token cannot burn a legitimate jti.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from refund_registry.domain.keys import PublicKey
from refund_registry.errors import AuthenticationFailed

REQUEST_TYP = "rr-req+jwt"
SUBJECT_TYP = "rr-subject+jwt"
REQUEST_MAX_LIFETIME = 120
SUBJECT_MAX_LIFETIME = 15 * 60
ALLOWED_ALGS = frozenset({"EdDSA", "ES256"})


def fail(code: str, detail: str) -> AuthenticationFailed:
    return AuthenticationFailed(detail, code=f"auth.{code}")


@dataclass(frozen=True, slots=True)
class Unverified:
    """What must be read before the key is known: which key, for whom."""

    kid: str
    iss: str
    alg: str
    typ: str


@dataclass(frozen=True, slots=True)
class VerifiedClaims:
    iss: str
    kid: str
    jti: str
    iat: int
    exp: int
    claims: Mapping[str, Any]


def body_digest(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode("ascii")


def peek(token: str, expected_typ: str) -> Unverified:
    """Read the header and issuer of a token without trusting them yet."""
    if token.count(".") != 2:
        raise fail("malformed", "the bearer token is not a compact JWS (header.payload.signature)")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise fail("malformed", f"the bearer token cannot be decoded: {exc}") from exc
    typ = header.get("typ")
    if typ != expected_typ:
        raise fail("wrong_type", f"token typ must be {expected_typ!r}, not {typ!r}")
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise fail("alg_not_allowed", f"alg {alg!r} is not accepted; use EdDSA or ES256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise fail("missing_kid", "the token header must name its key in 'kid'")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise fail("missing_claim", "the token must name its principal in 'iss'")
    return Unverified(kid=kid, iss=iss, alg=alg, typ=typ)


def verify(
    token: str,
    *,
    head: Unverified,
    key_principal: str,
    key_alg: str,
    key: PublicKey,
    audience: str,
    now: float,
    leeway: int,
    max_lifetime: int,
    required: tuple[str, ...],
) -> VerifiedClaims:
    """Verify signature, audience and times of a token whose key was looked up by ``head.kid``."""
    if key_principal != head.iss:
        raise fail("key_mismatch", "the key named by 'kid' does not belong to 'iss'")
    if head.alg != key_alg:
        raise fail("alg_mismatch", f"this key is registered for {key_alg}, not {head.alg}")
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[key_alg],
            audience=audience,
            options={
                "require": ["iss", "aud", "iat", "exp", "jti", *required],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise fail("bad_signature", "the token signature does not verify") from exc
    except jwt.InvalidAudienceError as exc:
        raise fail("audience", f"the token audience must be {audience!r}") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise fail("missing_claim", str(exc)) from exc
    except jwt.PyJWTError as exc:
        raise fail("malformed", f"the token is not valid: {exc}") from exc
    iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
    if not _is_int(iat) or not _is_int(exp):
        raise fail("malformed", "'iat' and 'exp' must be integer seconds")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise fail("malformed", "'jti' must be a string of 8 to 128 characters")
    if exp <= now - leeway:
        raise fail("expired", "the token has expired")
    if iat > now + leeway:
        raise fail("not_yet_valid", "the token was issued in the future; check the clock")
    if "nbf" in claims and (not _is_int(claims["nbf"]) or claims["nbf"] > now + leeway):
        raise fail("not_yet_valid", "the token is not valid yet ('nbf')")
    if exp - iat > max_lifetime or exp <= iat:
        raise fail("lifetime", f"'exp' must be after 'iat' and at most {max_lifetime} s later")
    return VerifiedClaims(iss=head.iss, kid=head.kid, jti=jti, iat=iat, exp=exp, claims=claims)


def check_request_binding(
    claims: Mapping[str, Any], *, method: str, path_and_query: str, body: bytes
) -> None:
    """The token must name this very request: method, path with query, body digest."""
    htm = claims.get("htm")
    if not isinstance(htm, str) or htm.upper() != method.upper():
        raise fail("method_mismatch", f"'htm' must be {method!r}")
    if claims.get("htu") != path_and_query:
        raise fail(
            "path_mismatch", f"'htu' must be the request's path and query {path_and_query!r}"
        )
    bsh = claims.get("bsh")
    if not isinstance(bsh, str) or not hmac.compare_digest(bsh, body_digest(body)):
        raise fail("body_mismatch", "'bsh' does not match the SHA-256 of the request body")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
