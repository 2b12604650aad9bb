"""Onboarding: principals, their keys, rotation, suspension and revocation."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from refund_registry.domain.keyring import ROLES, parse_public_key
from refund_registry.errors import InvalidInput, NotFound
from refund_registry.storage import principals as store

_PREFIX = {"member": "mbr", "adjudicator": "adj", "auditor": "aud", "admin": "adm"}


def new_principal_id(role: str) -> str:
    return f"{_PREFIX[role]}_{secrets.token_hex(8)}"


async def add_principal(pool: asyncpg.Pool, *, name: str, role: str, pem: bytes) -> dict[str, str]:
    """Register a principal with its first key; returns ``{"id", "kid", "alg"}``."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="principal.role")
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name must be 1 to 200 characters", code="principal.name")
    key = parse_public_key(pem)
    principal_id = new_principal_id(role)
    await store.add_principal(
        pool, principal_id=principal_id, name=name, role=role, kid=key.kid, alg=key.alg, pem=key.pem
    )
    return {"id": principal_id, "kid": key.kid, "alg": key.alg}


async def add_key(pool: asyncpg.Pool, *, principal_id: str, pem: bytes) -> dict[str, str]:
    """Add a further key (rotation): old and new keys both verify until the old one is revoked."""
    principal = await store.get_principal(pool, principal_id)
    if principal is None:
        raise NotFound(f"no principal {principal_id!r}", code="principal.not_found")
    if principal["status"] == "revoked":
        raise InvalidInput("a revoked principal cannot get new keys", code="principal.revoked")
    key = parse_public_key(pem)
    await store.add_key(pool, principal_id=principal_id, kid=key.kid, alg=key.alg, pem=key.pem)
    return {"id": principal_id, "kid": key.kid, "alg": key.alg}


async def revoke(
    pool: asyncpg.Pool, *, principal_id: str | None = None, kid: str | None = None
) -> dict[str, str]:
    """Revoke one key (``kid``) or a whole principal (``principal_id``); both are final."""
    if kid is not None:
        owner = await store.revoke_key(pool, kid)
        if owner is None:
            raise NotFound(f"no active key {kid!r}", code="key.not_found")
        return {"id": owner, "kid": kid, "status": "key revoked"}
    if principal_id is None:
        raise InvalidInput("name a principal or a key to revoke", code="principal.missing")
    if not await store.set_status(pool, principal_id, "revoked"):
        raise NotFound(
            f"no principal {principal_id!r} that is not already revoked", code="principal.not_found"
        )
    return {"id": principal_id, "status": "revoked"}


async def set_status(pool: asyncpg.Pool, principal_id: str, status: str) -> dict[str, str]:
    """Suspend (reversible) or reactivate a principal."""
    if status not in ("active", "suspended"):
        raise InvalidInput("status must be active or suspended", code="principal.status")
    if not await store.set_status(pool, principal_id, status):
        raise NotFound(
            f"no principal {principal_id!r} that is not revoked", code="principal.not_found"
        )
    return {"id": principal_id, "status": status}


async def list_all(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await store.list_principals(pool)
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "role": r["role"],
            "status": r["status"],
            "created_at": r["created_at"].isoformat(),
            "active_kids": list(r["active_kids"]),
        }
        for r in rows
    ]
