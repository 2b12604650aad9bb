"""Tokens made by hand, so a test can get any one claim or header wrong on purpose.

The SDK's :class:`~refund_registry.client.signing.Signer` only mints valid
tokens; these helpers build the same tokens from their parts instead.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from refund_registry.client.signing import Signer, body_hash

WHOAMI = "/v1/whoami"


def claims_for(signer: Signer, **overrides: Any) -> dict[str, Any]:
    """Valid claims of a signed ``GET /v1/whoami``; an override of ``None`` drops that claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": signer.principal_id,
        "aud": signer.audience,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
        "htm": "GET",
        "htu": WHOAMI,
        "bsh": body_hash(b""),
    }
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def token(signer: Signer, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    """A request token signed with ``signer``'s Ed25519 key, header and claims overridable."""
    hdr = {"typ": "rr-req+jwt", "kid": signer.kid, **(header or {})}
    return jwt.encode(claims_for(signer, **claims), signer.private_key, "EdDSA", headers=hdr)


def bearer(issuer: Signer, *ids: dict[str, str], **claims: Any) -> dict[str, str]:
    """A subject token, issued by ``issuer``, naming these identifiers."""
    pseudonyms = [{"kind": i["kind"], "value": i["pseudonym"]} for i in ids]
    return {"Authorization": "Bearer " + issuer.subject_token(pseudonyms, **claims)}
