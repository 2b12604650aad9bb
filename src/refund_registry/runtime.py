"""The composition root: connections, caches and services of one process.

Built once at start-up from the settings and handed to the HTTP app (and the
CLI commands that need it); nothing else opens connections.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from refund_registry import keyfiles
from refund_registry.config import Settings
from refund_registry.domain.reports import Keyring
from refund_registry.services.authn import Authenticator, KeyCache
from refund_registry.services.ledger import Ledger
from refund_registry.storage import principals as principal_store
from refund_registry.storage.cache import RedisBreaker, ReplayGuard, create_redis
from refund_registry.storage.db import create_pool

log = logging.getLogger("refund_registry.runtime")


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis | None
    breaker: RedisBreaker
    replay: ReplayGuard
    keys: KeyCache
    auth: Authenticator
    ledger: Ledger
    listener: asyncpg.Connection | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Connect to PostgreSQL and Redis; the URLs must be resolved by now."""
        if not settings.database_url:
            raise RuntimeError("Runtime.start needs a database URL (embedded servers not attached)")
        pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        redis = create_redis(settings.redis_url) if settings.redis_url else None
        breaker = RedisBreaker()
        replay = ReplayGuard(redis, breaker, fallback=settings.jti_fallback)

        async def load_key(kid: str) -> dict[str, Any] | None:
            return await principal_store.get_key(pool, kid)

        keys = KeyCache(load_key, settings.principal_cache_seconds)
        auth = Authenticator(
            keys, replay, audience=settings.audience, leeway=settings.clock_skew_seconds
        )
        keyring = Keyring(
            keyfiles.load_keyring_keys(
                settings.key_path("registry"), generate=settings.environment != "production"
            )
        )
        ledger = Ledger(pool, keyring)
        runtime = cls(settings, pool, redis, breaker, replay, keys, auth, ledger)
        await runtime._listen()
        return runtime

    async def _listen(self) -> None:
        """One dedicated connection hears key and principal changes from any process."""
        try:
            conn = await asyncpg.connect(self.settings.database_url)
            await conn.add_listener("registry_principals", self._principals_changed)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning(
                "cannot LISTEN for key changes; relying on cache expiry", extra={"error": str(exc)}
            )
            return
        self.listener = conn

    def _principals_changed(self, *_: object) -> None:
        self.keys.clear()

    async def close(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(Exception):
                await self.listener.close()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        await self.pool.close()
