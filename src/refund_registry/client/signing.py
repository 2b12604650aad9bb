"""Signed requests and subject tokens, as a member builds them (docs/contract.md).

Only ``pyjwt`` and ``cryptography`` are needed here, so a member platform can
install the SDK without any server dependency.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from refund_registry.domain.wire import b64url, b64url_decode

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def body_hash(body: bytes) -> str:
    """``bsh``: unpadded base64url SHA-256 of the exact body bytes (of b"" when there is none)."""
    return b64url(hashlib.sha256(body).digest())


# P-256 group order. pyjwt returns whichever of the two valid ECDSA signatures
# (r, s) and (r, n - s) the signer produced; the registry accepts only the low
# one (s <= n/2), so each signed request has one token string.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _low_s(token: str, alg: str) -> str:
    """``token`` with its ES256 signature normalised to low s; other tokens unchanged."""
    if alg != "ES256":
        return token
    head, _, signature = token.rpartition(".")
    raw = b64url_decode(signature)
    if raw is None or len(raw) != 64:
        return token
    s = int.from_bytes(raw[32:], "big")
    if s <= _P256_ORDER // 2:
        return token
    return f"{head}.{b64url(raw[:32] + (_P256_ORDER - s).to_bytes(32, 'big'))}"


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
    # The registry's public URL (its ``REGISTRY_AUDIENCE``, which defaults to
    # ``REGISTRY_PUBLIC_URL``). Left empty, the clients fill in their base URL.
    audience: str = ""
    lifetime: int = 60
    clock: Callable[[], float] = field(default=time.time, repr=False)
    # Each call must give a new value, since the registry refuses a jti it has
    # seen; a fixed one is for reproducing the published test vectors.
    jti_factory: Callable[[], str] = field(default=lambda: secrets.token_urlsafe(18), repr=False)

    @property
    def alg(self) -> str:
        return _alg_for(self.private_key)

    def for_registry(self, url: str) -> Signer:
        """This signer, with ``url`` (the registry's public URL) as audience unless one is set."""
        return self if self.audience else dataclasses.replace(self, audience=url.rstrip("/"))

    def _audience(self) -> str:
        if not self.audience:
            raise ValueError(
                "Signer.audience is not set: it is the registry's public URL "
                "(RegistryClient sets it from its base URL)"
            )
        return self.audience

    def request_token(self, method: str, path_and_query: str, body: bytes = b"") -> str:
        """A single-use ``rr-req+jwt`` bound to this method, path (with query) and body."""
        now = int(self.clock())
        claims = {
            "iss": self.principal_id,
            "aud": self._audience(),
            "iat": now,
            "exp": now + min(self.lifetime, 120),
            "jti": self.jti_factory(),
            "htm": method.upper(),
            "htu": path_and_query,
            "bsh": body_hash(body),
        }
        return _low_s(
            jwt.encode(
                claims,
                self.private_key,
                algorithm=self.alg,
                headers={"typ": "rr-req+jwt", "kid": self.kid},
            ),
            self.alg,
        )

    def headers(self, method: str, path_and_query: str, body: bytes = b"") -> dict[str, str]:
        return {"Authorization": "Bearer " + self.request_token(method, path_and_query, body)}

    def subject_token(self, pseudonyms: Iterable[Mapping[str, str]], *, lifetime: int = 600) -> str:
        """A single-use ``rr-subject+jwt`` handing a buyer over (at most 10 minutes).

        The registry exchanges it once for a buyer session, and only if this
        member reported or queried one of the pseudonyms within 12 months.
        """
        now = int(self.clock())
        claims = {
            "iss": self.principal_id,
            "aud": self._audience(),
            "iat": now,
            "exp": now + min(lifetime, 600),
            "jti": self.jti_factory(),
            "pseudonyms": [{"kind": p["kind"], "value": p["value"]} for p in pseudonyms],
        }
        return _low_s(
            jwt.encode(
                claims,
                self.private_key,
                algorithm=self.alg,
                headers={"typ": "rr-subject+jwt", "kid": self.kid},
            ),
            self.alg,
        )
