"""Verification of the signed tokens members send (docs/contract.md, section 3).

Pure: the caller supplies the registered key, the current time and the exact
request (method, path with query, body bytes); nothing here touches the
network, the database or the clock. Every refusal is an
``AuthenticationFailed`` whose ``code`` names the check that failed, so a
member's engineer can tell a clock problem from a signing bug at a glance.

Checks, in order: the token is a compact JWS; ``typ`` is the expected one;
``alg`` equals the algorithm pinned to the key (never ``none``, never HMAC);
``kid`` belongs to ``iss``; the signature verifies; ``aud``; ``iat``/``exp``
with a small leeway and a bounded lifetime; then the request binding
(``htm``, ``htu`` from the request line, ``bsh`` once the body has been read).
``jti`` single use is checked by the caller after all of this succeeds, so a
forged token, or a refused body, cannot burn a legitimate jti.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from refund_registry.domain.keyring import PublicKey
from refund_registry.domain.wire import b64url, b64url_decode
from refund_registry.errors import AuthenticationFailed

REQUEST_TYP = "rr-req+jwt"
SUBJECT_TYP = "rr-subject+jwt"
REQUEST_MAX_LIFETIME = 120
SUBJECT_MAX_LIFETIME = 10 * 60
ALLOWED_ALGS = frozenset({"EdDSA", "ES256"})
LEGACY_AUDIENCE = "refund-registry"
"""The audience every deployment once shared: a token minted for one registry was
good at any other. Refused with its own code unless a deployment still sets it."""


def fail(code: str, detail: str) -> AuthenticationFailed:
    return AuthenticationFailed(detail, code=f"auth.{code}")


# P-256 group order. An ECDSA signature (r, s) has a twin (r, n - s) that
# verifies as well; only the low one (s <= n/2) is accepted, so one signed
# request has exactly one token string.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_HALF_ORDER = P256_ORDER // 2

MAX_AUDIENCES = 16
MAX_PSEUDONYMS = 100
"""Structural bounds of the claims; the subject-token rules (1–10 pseudonyms) come later."""


class _Header(msgspec.Struct, frozen=True):
    """The header parameters the registry reads; any other one is skipped unread."""

    alg: str | None = None
    typ: str | None = None
    kid: str | None = None
    # Presence alone refuses the token; its value is never interpreted.
    crit: msgspec.Raw = msgspec.Raw(b"")


class PseudonymClaim(msgspec.Struct, frozen=True):
    kind: str
    value: str


class _Claims(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every claim the registry reads, with its type; other claims are skipped unread.

    The types bound the nesting: the deepest value a claim may hold is a
    pseudonym object inside the ``pseudonyms`` list.
    """

    iss: str | msgspec.UnsetType = msgspec.UNSET
    aud: str | Annotated[list[str], msgspec.Meta(max_length=MAX_AUDIENCES)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    iat: int | msgspec.UnsetType = msgspec.UNSET
    exp: int | msgspec.UnsetType = msgspec.UNSET
    nbf: int | msgspec.UnsetType = msgspec.UNSET
    jti: str | msgspec.UnsetType = msgspec.UNSET
    htm: str | msgspec.UnsetType = msgspec.UNSET
    htu: str | msgspec.UnsetType = msgspec.UNSET
    bsh: str | msgspec.UnsetType = msgspec.UNSET
    pseudonyms: (
        Annotated[list[PseudonymClaim], msgspec.Meta(max_length=MAX_PSEUDONYMS)] | msgspec.UnsetType
    ) = msgspec.UNSET


_HEADER_DECODER = msgspec.json.Decoder(_Header)
_CLAIMS_DECODER = msgspec.json.Decoder(_Claims)

# A claim or header parameter of the wrong type fails the check that reads it.
_FIELD_CODES = {
    "typ": ("wrong_type", "token typ must be a string"),
    "alg": ("alg_not_allowed", "alg must be EdDSA or ES256"),
    "kid": ("missing_kid", "the token header must name its key in 'kid'"),
    "iss": ("missing_claim", "the token must name its principal in 'iss'"),
}


def _decode(decoder: msgspec.json.Decoder[Any], raw: bytes, what: str) -> Any:
    """Decode one segment into its struct; every failure is a 401, never a 500.

    A value nested deeper than the interpreter allows (a skipped, unknown
    claim holding thousands of nested arrays) raises RecursionError inside the
    decoder; it is refused like any other malformed token.
    """
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        for name, (code, detail) in _FIELD_CODES.items():
            if text.endswith(f"`$.{name}`"):
                raise fail(code, detail) from None
        raise fail("malformed", f"the token {what} is not valid: {text}") from None
    except msgspec.DecodeError as exc:
        raise fail("malformed", f"the token {what} must be a JSON object") from exc
    except RecursionError:
        raise fail("malformed", f"the token {what} is nested too deeply") from None


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
    signing_digest: str
    """Unpadded base64url SHA-256 of the signing input (``header.claims``): names
    the signed request independently of the signature's spelling."""


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
    and fixed (docs/contract.md), and a library's generic decoding tripled the
    CPU cost of authentication on the hot path. Header and claims decode into
    typed structs: a claim of the wrong type, or nested beyond what its type
    allows, is a 401 here.
    """
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        raise fail("malformed", "the bearer token is not a compact JWS (header.payload.signature)")
    try:
        raw_header = _b64url(parts[0])
        raw_claims = _b64url(parts[1])
        signature = _b64url(parts[2])
    except ValueError as exc:
        raise fail("malformed", "the bearer token cannot be decoded") from exc
    header: _Header = _decode(_HEADER_DECODER, raw_header, "header")
    parsed: _Claims = _decode(_CLAIMS_DECODER, raw_claims, "payload")
    typ = header.typ
    if typ != expected_typ:
        raise fail("wrong_type", f"token typ must be {expected_typ!r}, not {typ!r}")
    alg = header.alg
    if alg not in ALLOWED_ALGS:
        raise fail("alg_not_allowed", f"alg {alg!r} is not accepted; use EdDSA or ES256")
    if header.crit:
        raise fail("malformed", "no critical header extensions are understood")
    kid = header.kid
    if not kid:
        raise fail("missing_kid", "the token header must name its key in 'kid'")
    iss = parsed.iss
    if not isinstance(iss, str) or not iss:
        raise fail("missing_claim", "the token must name its principal in 'iss'")
    if not kid.isprintable() or not iss.isprintable() or len(kid) > 200 or len(iss) > 200:
        raise fail("malformed", "'kid' and 'iss' must be short printable strings")
    return Unverified(
        kid=kid,
        iss=iss,
        alg=alg,
        typ=typ,
        claims=msgspec.to_builtins(parsed),
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=signature,
    )


def _high_s(head: Unverified) -> bool:
    """An ES256 signature whose s lies in the upper half of the group order."""
    return (
        head.alg == "ES256"
        and len(head.signature) == 64
        and int.from_bytes(head.signature[32:], "big") > P256_HALF_ORDER
    )


def _signature_valid(head: Unverified, key: PublicKey) -> bool:
    """Whether ``head``'s signature verifies with ``key``.

    Ed25519 goes through libsodium, which verifies in about half the time
    OpenSSL takes on the project's machine (docs/performance.md) and is
    stricter: besides a non-canonical ``S``, which both refuse, it refuses
    a non-canonical or small-order public key or ``R``, which no honest
    signer produces (docs/contract.md).
    """
    try:
        if head.alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            if len(head.signature) != 64:
                return False
            crypto_sign_open(head.signature + head.signing_input, key.public_bytes_raw())
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
    except (InvalidSignature, BadSignatureError):
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
    if _high_s(head):
        raise fail(
            "high_s_signature",
            "ES256 signatures must have a low s (s <= n/2); replace s by n - s",
        )
    if not _signature_valid(head, key):
        raise fail("bad_signature", "the token signature does not verify")
    claims = head.claims
    missing = [c for c in ("iss", "aud", "iat", "exp", "jti", *required) if c not in claims]
    if missing:
        raise fail("missing_claim", f"the token lacks required claims: {', '.join(missing)}")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        if aud == LEGACY_AUDIENCE or (isinstance(aud, list) and LEGACY_AUDIENCE in aud):
            raise fail(
                "audience_legacy",
                f"{LEGACY_AUDIENCE!r} was an audience shared by every deployment and is no "
                f"longer accepted: tokens for this registry carry its public URL, {audience!r}",
            )
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
    return VerifiedClaims(
        iss=head.iss,
        kid=head.kid,
        jti=jti,
        iat=iat,
        exp=exp,
        claims=claims,
        signing_digest=body_digest(head.signing_input),
    )


def check_request_target(claims: Mapping[str, Any], *, method: str, path_and_query: str) -> None:
    """The token must name this request's method and path with query (``htm``, ``htu``).

    Checked from the request line alone, before any of the body is read.
    """
    htm = claims.get("htm")
    if not isinstance(htm, str) or htm.upper() != method.upper():
        raise fail("method_mismatch", f"'htm' must be {method!r}")
    if claims.get("htu") != path_and_query:
        raise fail(
            "path_mismatch", f"'htu' must be the request's path and query {path_and_query!r}"
        )


def check_body_digest(claims: Mapping[str, Any], body: bytes) -> None:
    """``bsh`` must be the SHA-256 of the exact body bytes."""
    bsh = claims.get("bsh")
    if not isinstance(bsh, str) or not hmac.compare_digest(bsh, body_digest(body)):
        raise fail("body_mismatch", "'bsh' does not match the SHA-256 of the request body")


def check_request_binding(
    claims: Mapping[str, Any], *, method: str, path_and_query: str, body: bytes
) -> None:
    """The token must name this very request: method, path with query, body digest."""
    check_request_target(claims, method=method, path_and_query=path_and_query)
    check_body_digest(claims, body)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
