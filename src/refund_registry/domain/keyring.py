"""Keys, as pure rules: the registry's HMAC keyring and the public keys of principals.

**The keyring.** A subject key is ``HMAC(k_n, … HMAC(k_1, pseudonym))`` over
the registry's HMAC keys, oldest first. Rotation appends a key and re-wraps
every stored subject key with it, which needs no pseudonym, so no record can
be lost. The key files themselves are read and written by
``storage/keyfiles.py``.

**Principal keys.** A public key is pinned to exactly one JWS algorithm when
it is registered (Ed25519 → ``EdDSA``, P-256 → ``ES256``); a token that names
another algorithm for that key is refused, which closes the door on algorithm
confusion. The key id is the RFC 7638 JWK thumbprint, so it is derived from
the key itself and a member can compute it offline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from nacl.bindings import crypto_core_ed25519_is_valid_point

from refund_registry.domain.wire import b64url
from refund_registry.errors import InvalidInput

# -- the registry's keyring -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keyring:
    """The registry's HMAC keys, oldest first; the last one is current.

    A subject key is ``HMAC(k_n, … HMAC(k_2, HMAC(k_1, pseudonym)))``. Rotating
    to a new key re-wraps every stored subject key with it (``HMAC(k_new,
    stored)``), which needs no pseudonym, so no record can be lost; a thief then
    needs every key of the chain to test guesses.
    """

    keys: tuple[bytes, ...]
    # Each key's HMAC, keyed once: the SHA-256 states after its inner and
    # outer padded key blocks (RFC 2104), copied for every value.
    _states: tuple[tuple[Any, Any], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keys or any(len(k) != 32 for k in self.keys):
            raise ValueError("a keyring holds one or more 32-byte keys")
        object.__setattr__(self, "_states", tuple(_keyed(k) for k in self.keys))

    def __reduce__(self) -> tuple[type[Keyring], tuple[tuple[bytes, ...]]]:
        # The hash states cannot be pickled or copied deeply; the keys rebuild them.
        return (Keyring, (self.keys,))

    @property
    def version(self) -> int:
        return len(self.keys)

    def subject_key(self, pseudonym: bytes) -> bytes:
        return self._chain(pseudonym, self._states)

    def rewrap(self, stored: bytes, from_version: int) -> bytes:
        return self._chain(stored, self._states[from_version:])

    @staticmethod
    def _chain(value: bytes, states: tuple[tuple[Any, Any], ...]) -> bytes:
        """``HMAC-SHA256`` under each key in turn (``hmac.digest`` gives the same
        bytes, keying OpenSSL afresh on every call: 2.5 times the CPU)."""
        for inner, outer in states:
            h = inner.copy()
            h.update(value)
            o = outer.copy()
            o.update(h.digest())
            value = o.digest()
        return value


def _keyed(key: bytes) -> tuple[Any, Any]:
    """The SHA-256 states after ``key ^ ipad`` and ``key ^ opad`` (a key of at
    most one 64-byte block, padded with zeros)."""
    block = key.ljust(64, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in block)),
        hashlib.sha256(bytes(b ^ 0x5C for b in block)),
    )


# -- principals' public keys --------------------------------------------------------

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
ROLES = ("member", "adjudicator", "auditor", "admin", "portal")
"""The roles a principal, and so its keys, can be registered for.

``portal`` is the registry's own buyer portal: it may only ask the key service
for evaluations (the pseudonyms of buyers who sign in with a one-time code),
under its own rate limit and quota.
"""


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
        if not crypto_core_ed25519_is_valid_point(raw):
            raise InvalidInput(
                "this Ed25519 public key is a point of small order or not canonically "
                "encoded, so no signature by it can be trusted; generate a new key",
                code="key.unsupported",
            )
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
