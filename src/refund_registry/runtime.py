"""The composition root: connections, caches and services of one process.

Built once at start-up from the settings and handed to the HTTP app (and the
CLI commands that need it); nothing else opens connections.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.config import Settings
from refund_registry.domain.keyring import Keyring
from refund_registry.services.appeals import AppealService
from refund_registry.services.authn import Authenticator, KeyCache
from refund_registry.services.ledger import Ledger
from refund_registry.services.risk import RiskService
from refund_registry.storage import keyfiles
from refund_registry.storage import principals as principal_store
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.cache import RedisBatcher, RedisBreaker, ReplayGuard, create_redis
from refund_registry.storage.db import create_pool
from refund_registry.storage.lookup import SubjectLookup
from refund_registry.storage.ratelimit import RateLimiter

log = logging.getLogger("refund_registry.runtime")


@dataclass
class RegistryParts:
    """What only the registry API (not the key service) holds: its keys and ledgers."""

    keyring: Keyring
    log_key: ed25519.Ed25519PrivateKey
    ledger: Ledger
    access_log: AccessLog
    lookup: SubjectLookup
    risk: RiskService
    query_limiter: RateLimiter
    appeals: AppealService

    @classmethod
    def build(
        cls,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: aioredis.Redis | None,
        breaker: RedisBreaker,
        batcher: RedisBatcher | None,
    ) -> RegistryParts:
        generate = settings.environment != "production"
        keyring = Keyring(
            keyfiles.load_keyring_keys(settings.key_path("registry"), generate=generate)
        )
        log_key = keyfiles.ensure_ed25519(settings.key_path("log"), generate=generate)
        access_log = AccessLog(pool, log_key)
        lookup = SubjectLookup(pool)
        ledger = Ledger(pool, keyring, log_key=log_key)
        return cls(
            keyring=keyring,
            log_key=log_key,
            ledger=ledger,
            access_log=access_log,
            lookup=lookup,
            risk=RiskService(keyring, lookup, access_log, settings.public_url),
            query_limiter=RateLimiter(
                redis,
                breaker,
                namespace="rr:rl:query",
                per_second=settings.query_rate_per_second,
                per_day=settings.query_quota_per_day,
                batcher=batcher,
            ),
            appeals=AppealService(pool, keyring, access_log),
        )


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis | None
    breaker: RedisBreaker
    replay: ReplayGuard
    keys: KeyCache
    auth: Authenticator
    listener: asyncpg.Connection | None = None
    registry: RegistryParts | None = None

    @property
    def ledger(self) -> Ledger:
        return self._registry().ledger

    @property
    def risk(self) -> RiskService:
        return self._registry().risk

    @property
    def access_log(self) -> AccessLog:
        return self._registry().access_log

    @property
    def parts(self) -> RegistryParts:
        """The registry-only parts; the key service has none."""
        return self._registry()

    def _registry(self) -> RegistryParts:
        if self.registry is None:
            raise RuntimeError("this process holds no registry key (it is the key service)")
        return self.registry

    async def limit_queries(self, member_id: str, units: int) -> None:
        await self._registry().query_limiter.acquire(member_id, units)

    @classmethod
    async def start(cls, settings: Settings, *, registry: bool = True) -> Runtime:
        """Connect to PostgreSQL and Redis; the URLs must be resolved by now.

        ``registry=False`` (the key service) loads neither the registry key nor
        the log key: the key service must never hold them (SPEC section 3).
        """
        if not settings.database_url:
            raise RuntimeError("Runtime.start needs a database URL (embedded servers not attached)")
        pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        redis = create_redis(settings.redis_url) if settings.redis_url else None
        breaker = RedisBreaker()
        batcher = RedisBatcher(redis) if redis is not None else None
        replay = ReplayGuard(redis, breaker, fallback=settings.jti_fallback, batcher=batcher)

        async def load_key(kid: str) -> dict[str, Any] | None:
            return await principal_store.get_key(pool, kid)

        keys = KeyCache(load_key, settings.principal_cache_seconds)
        auth = Authenticator(
            keys, replay, audience=settings.audience, leeway=settings.clock_skew_seconds
        )
        runtime = cls(settings, pool, redis, breaker, replay, keys, auth)
        if registry:
            runtime.registry = RegistryParts.build(settings, pool, redis, breaker, batcher)
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
        if self.registry is not None:
            await self.registry.access_log.close()
        if self.listener is not None:
            with contextlib.suppress(Exception):
                await self.listener.close()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        await self.pool.close()
