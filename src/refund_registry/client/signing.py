"""Signed requests and subject tokens, as a member builds them (SPEC section 10).

Only ``pyjwt`` and ``cryptography`` are needed here, so a member platform can
install the SDK without any server dependency.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from refund_registry.domain.wire import b64url

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def body_hash(body: bytes) -> str:
    """``bsh``: unpadded base64url SHA-256 of the exact body bytes (of b"" when there is none)."""
    return b64url(hashlib.sha256(body).digest())


def _alg_for(key: PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise TypeError("only Ed25519 and P-256 private keys can sign registry requests")


@dataclass(frozen=True)
class Signer:
    """Holds a principal's identity and private key; mints one token per request."""

    principal_id: str
    kid: str
    private_key: PrivateKey
    audience: str = "refund-registry"
    lifetime: int = 60
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @property
    def alg(self) -> str:
        return _alg_for(self.private_key)

    def request_token(self, method: str, path_and_query: str, body: bytes = b"") -> str:
        """A single-use ``rr-req+jwt`` bound to this method, path (with query) and body."""
        now = int(self.clock())
        claims = {
            "iss": self.principal_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + min(self.lifetime, 120),
            "jti": secrets.token_urlsafe(18),
            "htm": method.upper(),
            "htu": path_and_query,
            "bsh": body_hash(body),
        }
        return jwt.encode(
            claims,
            self.private_key,
            algorithm=self.alg,
            headers={"typ": "rr-req+jwt", "kid": self.kid},
        )

    def headers(self, method: str, path_and_query: str, body: bytes = b"") -> dict[str, str]:
        return {"Authorization": "Bearer " + self.request_token(method, path_and_query, body)}

    def subject_token(self, pseudonyms: Iterable[Mapping[str, str]], *, lifetime: int = 600) -> str:
        """An ``rr-subject+jwt`` for a buyer this member has signed in (at most 15 minutes)."""
        now = int(self.clock())
        claims = {
            "iss": self.principal_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + min(lifetime, 900),
            "jti": secrets.token_urlsafe(18),
            "pseudonyms": [{"kind": p["kind"], "value": p["value"]} for p in pseudonyms],
        }
        return jwt.encode(
            claims,
            self.private_key,
            algorithm=self.alg,
            headers={"typ": "rr-subject+jwt", "kid": self.kid},
        )
