"""Public keys of principals: which algorithm a key speaks, and its key id.

A key is pinned to exactly one JWS algorithm when it is registered (Ed25519 →
``EdDSA``, P-256 → ``ES256``); a token that names another algorithm for that
key is refused, which closes the door on algorithm confusion. The key id is
the RFC 7638 JWK thumbprint, so it is derived from the key itself and a
member can compute it offline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from refund_registry.domain.wire import b64url
from refund_registry.errors import InvalidInput

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
ROLES = ("member", "adjudicator", "auditor", "admin")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    alg: str
    kid: str
    pem: str
    key: PublicKey


def parse_public_key(pem: bytes) -> ParsedKey:
    """Accept an Ed25519 or P-256 public key in PEM; anything else is refused."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a PEM public key: {exc}", code="key.unreadable") from exc
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
        alg = "EdDSA"
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        numbers = key.public_numbers()
        jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        alg = "ES256"
    else:
        raise InvalidInput(
            "only Ed25519 (EdDSA) and P-256 (ES256) public keys are accepted",
            code="key.unsupported",
        )
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    kid = b64url(hashlib.sha256(canonical).digest())
    normalised_pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return ParsedKey(alg=alg, kid=kid, pem=normalised_pem, key=key)
