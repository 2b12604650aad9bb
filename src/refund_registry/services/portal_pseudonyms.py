"""The key service, asked for buyers' pseudonyms as the registry's own portal principal.

Direct buyer sign-in (``services.buyer_signin``) derives the pseudonym of the
identifier a code goes to through the member SDK, signed as a ``portal``
principal with its own quota. Nothing derived from an identifier is logged or
cached here.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Final

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization

from refund_registry.client.sdk import (
    AsyncRegistryClient,
    RegistryApiError,
    RetryPolicy,
    afetch_keyservice_public_key,
)
from refund_registry.client.signing import Signer
from refund_registry.domain import oprf
from refund_registry.domain.keyring import parse_public_key
from refund_registry.errors import Conflict, Unavailable
from refund_registry.services import principals
from refund_registry.storage import keyfiles
from refund_registry.storage import principals as principal_store

log = logging.getLogger("refund_registry.buyer_signin")

PORTAL_NAME: Final = "registry portal"


class PortalPseudonyms:
    """The key service, asked as the registry's portal principal with the member SDK.

    The principal, its key and the key service's public key are resolved on
    first use: production names them in the settings; zero-setup mode
    registers a ``portal`` principal for a key kept in the data folder
    (idempotently: the key's id finds it again) and reads the public key
    from the key service once. ``transport`` lets tests reach an in-process
    key service.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        base_url: str,
        audience: str,
        key_path: Path,
        principal_id: str = "",
        kid: str = "",
        public_key: str = "",
        generate: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.pool = pool
        self.base_url = base_url
        self.audience = audience
        self.key_path = key_path
        self.principal_id = principal_id
        self.kid = kid
        self.public_key = public_key
        self.generate = generate
        self.transport = transport
        self._client: AsyncRegistryClient | None = None
        self._lock = asyncio.Lock()

    async def _ensure_principal(self, pem: bytes) -> tuple[str, str]:
        """The portal principal holding this key, registered now if need be."""
        kid = parse_public_key(pem).kid
        for _ in range(2):
            holder = await principal_store.key_holder(self.pool, kid)
            if holder is not None:
                if holder.role != "portal" or holder.key_revoked or holder.status != "active":
                    raise Unavailable(
                        "the portal key is registered to another, revoked or inactive principal",
                        code="keyservice.unavailable",
                    )
                return holder.principal_id, kid
            try:
                added = await principals.add_principal(
                    self.pool, name=PORTAL_NAME, role="portal", pem=pem
                )
            except Conflict:
                continue  # another process registered it meanwhile: find it again
            log.info("registered the portal principal", extra={"principal": added["id"]})
            return added["id"], added["kid"]
        raise Unavailable("the portal principal could not be registered", code="db.unavailable")

    async def _ready(self) -> AsyncRegistryClient:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                key = await asyncio.to_thread(
                    keyfiles.ensure_ed25519, self.key_path, generate=self.generate
                )
                principal_id, kid = self.principal_id, self.kid
                if not principal_id or not kid:
                    pem = key.public_key().public_bytes(
                        serialization.Encoding.PEM,
                        serialization.PublicFormat.SubjectPublicKeyInfo,
                    )
                    principal_id, kid = await self._ensure_principal(pem)
                signer = Signer(
                    principal_id=principal_id, kid=kid, private_key=key, audience=self.audience
                )
                # Zero-setup mode trusts the key service it started itself; production
                # pins the key from the settings.
                pinned = self.public_key or await afetch_keyservice_public_key(
                    self.base_url, transport=self.transport
                )
                self._client = AsyncRegistryClient(
                    self.base_url,
                    signer,
                    keyservice_public_key=pinned,
                    transport=self.transport,
                    retry=RetryPolicy(attempts=2, max_delay=2.0),
                    cache_size=0,  # nothing derived from an identifier stays in memory
                )
            return self._client

    async def pseudonym(self, kind: str, normalised: str) -> bytes:
        """The pseudonym of a normalised identifier; 503 when the key service cannot help."""
        try:
            client = await self._ready()
            text = await client.pseudonymise(kind, normalised)
        except (RegistryApiError, oprf.ProofInvalid, oprf.InvalidKey) as exc:
            # Neither the identifier nor the answer's text is logged: only what failed.
            code = getattr(exc, "code", type(exc).__name__)
            log.warning("the key service refused the portal", extra={"code": code})
            raise Unavailable(
                "sign-in is unavailable right now (the key service did not answer); retry",
                code="keyservice.unavailable",
            ) from None
        raw = oprf.b64d(text, field_name="pseudonym")
        return raw

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


__all__ = ["PORTAL_NAME", "PortalPseudonyms"]
