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

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from refund_registry.domain.keyring import PublicKey
from refund_registry.domain.wire import b64url, b64url_decode
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
    """A token split and decoded, nothing trusted yet: which key, for whom."""

    kid: str
    iss: str
    alg: str
    typ: str
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class VerifiedClaims:
    iss: str
    kid: str
    jti: str
    iat: int
    exp: int
    claims: Mapping[str, Any]


def body_digest(body: bytes) -> str:
    return b64url(hashlib.sha256(body).digest())


def _b64url(segment: str) -> bytes:
    """Strict, canonical unpadded base64url: one token has exactly one spelling.

    Spare bits set in the last character would otherwise give a second token
    string (and request digest) for the same signed request.
    """
    raw = b64url_decode(segment)
    if raw is None:
        raise ValueError("not canonical base64url")
    return raw


def peek(token: str, expected_typ: str) -> Unverified:
    """Split a compact JWS and read its header and claims without trusting them yet.

    The JWS is parsed here rather than by a JWT library: the checks are few
    and fixed (SPEC section 10), and a library's generic decoding tripled the
    CPU cost of authentication on the hot path.
    """
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        raise fail("malformed", "the bearer token is not a compact JWS (header.payload.signature)")
    try:
        header = msgspec.json.decode(_b64url(parts[0]))
        claims = msgspec.json.decode(_b64url(parts[1]))
        signature = _b64url(parts[2])
    except (ValueError, msgspec.DecodeError) as exc:
        raise fail("malformed", "the bearer token cannot be decoded") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise fail("malformed", "the token header and payload must be JSON objects")
    typ = header.get("typ")
    if typ != expected_typ:
        raise fail("wrong_type", f"token typ must be {expected_typ!r}, not {typ!r}")
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise fail("alg_not_allowed", f"alg {alg!r} is not accepted; use EdDSA or ES256")
    if "crit" in header:
        raise fail("malformed", "no critical header extensions are understood")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise fail("missing_kid", "the token header must name its key in 'kid'")
    iss = claims.get("iss")
    if not isinstance(iss, str) or not iss:
        raise fail("missing_claim", "the token must name its principal in 'iss'")
    if not kid.isprintable() or not iss.isprintable() or len(kid) > 200 or len(iss) > 200:
        raise fail("malformed", "'kid' and 'iss' must be short printable strings")
    return Unverified(
        kid=kid,
        iss=iss,
        alg=alg,
        typ=typ,
        claims=claims,
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=signature,
    )


def _signature_valid(head: Unverified, key: PublicKey) -> bool:
    try:
        if head.alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(head.signature, head.signing_input)
            return True
        if head.alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(head.signature) != 64:
                return False
            r = int.from_bytes(head.signature[:32], "big")
            s = int.from_bytes(head.signature[32:], "big")
            key.verify(
                utils.encode_dss_signature(r, s), head.signing_input, ec.ECDSA(hashes.SHA256())
            )
            return True
    except InvalidSignature:
        return False
    return False


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
    if not _signature_valid(head, key):
        raise fail("bad_signature", "the token signature does not verify")
    claims = head.claims
    missing = [c for c in ("iss", "aud", "iat", "exp", "jti", *required) if c not in claims]
    if missing:
        raise fail("missing_claim", f"the token lacks required claims: {', '.join(missing)}")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise fail("audience", f"the token audience must be {audience!r}")
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
