"""Principals registered straight through the service, each with a fresh Ed25519 key."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg

    from refund_registry.client.signing import Signer

MakePrincipal = Callable[..., Awaitable["Signer"]]

AUDIENCE = "http://127.0.0.1:8080"
"""The audience of the tests' tokens: the default public URL of ``Settings``, which
the registry's audience defaults to."""


async def register_principal(
    pool: asyncpg.Pool, role: str = "member", name: str | None = None, *, org: str | None = None
) -> Signer:
    """Register a principal with a fresh Ed25519 key; return a signer for it.

    ``org``: the organisation it acts for; by default one of its own.
    """
    # Deferred: a bench may put another source tree on the path first (--src).
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from refund_registry.client.signing import Signer
    from refund_registry.services import principals

    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    added = await principals.add_principal(
        pool, name=name or f"{role} {secrets.token_hex(3)}", role=role, pem=pem, org=org
    )
    return Signer(principal_id=added["id"], kid=added["kid"], private_key=key, audience=AUDIENCE)
