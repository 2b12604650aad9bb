"""Onboarding: principals, their keys, rotation, suspension and revocation."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from refund_registry.domain.keyring import ROLES, parse_public_key
from refund_registry.domain.quotas import check_org_id
from refund_registry.errors import Conflict, InvalidInput, NotFound
from refund_registry.storage import principals as store

_PREFIX = {
    "member": "mbr",
    "adjudicator": "adj",
    "auditor": "aud",
    "admin": "adm",
    "portal": "ptl",
}


def new_principal_id(role: str) -> str:
    return f"{_PREFIX[role]}_{secrets.token_hex(8)}"


async def add_principal(
    pool: asyncpg.Pool, *, name: str, role: str, pem: bytes, org: str | None = None
) -> dict[str, str]:
    """Register a principal with its first key; returns ``{"id", "kid", "alg", "org"}``.

    ``org`` is the organisation it acts for (created when new); its principals
    share one enumeration budget. Without it the principal gets an
    organisation of its own, named by its id.
    """
    if org is not None:
        check_org_id(org)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="principal.role")
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("name must be 1 to 200 characters", code="principal.name")
    key = parse_public_key(pem)
    await _refuse_held_key(pool, key.kid)
    principal_id = new_principal_id(role)
    try:
        await store.add_principal(
            pool,
            principal_id=principal_id,
            name=name,
            role=role,
            kid=key.kid,
            alg=key.alg,
            pem=key.pem,
            org_id=org,
        )
    except Conflict:
        await _refuse_held_key(pool, key.kid)  # registered meanwhile by someone else
        raise
    return {"id": principal_id, "kid": key.kid, "alg": key.alg, "org": org or principal_id}


async def add_key(pool: asyncpg.Pool, *, principal_id: str, pem: bytes) -> dict[str, str]:
    """Add a further key (rotation): old and new keys both verify until the old one is revoked."""
    principal = await store.get_principal(pool, principal_id)
    if principal is None:
        raise NotFound(f"no principal {principal_id!r}", code="principal.not_found")
    if principal["status"] == "revoked":
        raise InvalidInput("a revoked principal cannot get new keys", code="principal.revoked")
    key = parse_public_key(pem)
    await _refuse_held_key(pool, key.kid)
    try:
        await store.add_key(pool, principal_id=principal_id, kid=key.kid, alg=key.alg, pem=key.pem)
    except Conflict:
        await _refuse_held_key(pool, key.kid)
        raise
    return {"id": principal_id, "kid": key.kid, "alg": key.alg}


async def _refuse_held_key(pool: asyncpg.Pool, kid: str) -> None:
    """A key belongs to one principal for good (its id is its hash): name the holder.

    A revoked key stays registered, so that a signature made with it can never
    be attributed to somebody else; hence it is refused too.
    """
    holder = await store.key_holder(pool, kid)
    if holder is None:
        return
    revoked = "; the key itself is revoked" if holder.key_revoked else ""
    raise Conflict(
        f"this public key (kid {kid}) is already registered to {holder.principal_id} "
        f"({holder.name!r}, {holder.role}, {holder.status}{revoked}); "
        "a key belongs to one principal: generate a new key pair"
    )


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


async def show(pool: asyncpg.Pool, principal_id: str) -> dict[str, Any]:
    """One principal with every key it ever had (revoked ones marked)."""
    principal = await store.get_principal_detail(pool, principal_id)
    if principal is None:
        raise NotFound(f"no principal {principal_id!r}", code="principal.not_found")
    keys = await store.list_keys(pool, principal_id)
    return {
        "id": principal["id"],
        "name": principal["name"],
        "role": principal["role"],
        "status": principal["status"],
        "org": principal["org_id"],
        "created_at": principal["created_at"].isoformat(),
        "changed_at": principal["changed_at"].isoformat(),
        "keys": [
            {
                "kid": k.kid,
                "alg": k.alg,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in keys
        ],
    }


async def list_all(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await store.list_principals(pool)
    return [
        {
            "id": r["id"],
            "name": r["name"],
            "role": r["role"],
            "status": r["status"],
            "org": r["org_id"],
            "created_at": r["created_at"].isoformat(),
            "active_kids": list(r["active_kids"]),
        }
        for r in rows
    ]
