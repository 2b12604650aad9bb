"""The composition root: connections, caches and services of one process.

Built once at start-up from the settings and handed to the HTTP app (and the
CLI commands that need it); nothing else opens connections.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.config import Settings
from refund_registry.delivery.mail import SmtpMailer, SmtpSettings
from refund_registry.delivery.outbox import Outbox
from refund_registry.delivery.sms import SmsGateway
from refund_registry.delivery.webhooks import WebhookSender
from refund_registry.domain.keyring import Keyring
from refund_registry.services.appeals import AppealService
from refund_registry.services.authn import Authenticator, KeyCache
from refund_registry.services.buyer_codes import (
    CODES_PER_ADDRESS_PER_DAY,
    CODES_PER_ADDRESS_PER_SECOND,
    CODES_PER_IDENTIFIER_PER_DAY,
    CodeSender,
)
from refund_registry.services.buyer_signin import BuyerSignIn
from refund_registry.services.ledger import Ledger
from refund_registry.services.portal_pseudonyms import PortalPseudonyms
from refund_registry.services.quotas import OrgQuota
from refund_registry.services.risk import RiskService
from refund_registry.services.staff_signin import StaffSignIn
from refund_registry.services.webhooks import WebhookService
from refund_registry.storage import keyfiles
from refund_registry.storage import principals as principal_store
from refund_registry.storage.accesslog import AccessLog
from refund_registry.storage.cache import RedisBatcher, RedisBreaker, ReplayGuard, create_redis
from refund_registry.storage.db import CONNECT_TIMEOUT, create_pool
from refund_registry.storage.lookup import SubjectLookup
from refund_registry.storage.organisations import QUERY
from refund_registry.storage.ratelimit import RateLimiter
from refund_registry.storage.redis_client import RedisClient

log = logging.getLogger("refund_registry.runtime")

OUTBOX_FILE = "outbox.jsonl"
"""Where zero-setup mode writes the codes of channels with no server configured."""


def code_channels(settings: Settings) -> dict[str, CodeSender]:
    """The sender of codes per identifier kind: SMTP and the SMS gateway when set.

    Outside production a channel that is not configured writes to the outbox
    file of the data folder (``refund-registry outbox`` shows it); production
    settings refuse to load without both (``config.py``).
    """
    outbox = settings.data_dir / OUTBOX_FILE
    email: CodeSender = (
        SmtpMailer(
            SmtpSettings.from_url(
                settings.smtp_url, sender=settings.smtp_from, starttls=settings.smtp_starttls
            )
        )
        if settings.smtp_url
        else Outbox(outbox, "email")
    )
    phone: CodeSender = (
        SmsGateway(settings.sms_gateway_url, settings.sms_gateway_secret)
        if settings.sms_gateway_url
        else Outbox(outbox, "sms")
    )
    return {"email": email, "phone": phone}


def build_buyers(
    settings: Settings,
    pool: asyncpg.Pool,
    keyring: Keyring,
    auth: Authenticator,
    limiters: tuple[RateLimiter, RateLimiter],
) -> BuyerSignIn:
    """Buyer sign-in: the portal principal's key-service client, channels, code key."""
    from refund_registry.http.keyservice_proxy import keyservice_base_url

    generate = settings.environment != "production"
    pseudonyms = PortalPseudonyms(
        pool,
        base_url=keyservice_base_url(settings),
        audience=settings.audience,
        key_path=settings.key_path("portal"),
        principal_id=settings.portal_principal,
        kid=settings.portal_kid,
        public_key=settings.keyservice_public_key,
        generate=generate,
    )
    code_key = keyfiles.ensure_secret(settings.key_path("buyer_code"), generate=generate)
    if not generate:  # production: a missing or unreadable portal key stops start-up
        keyfiles.ensure_ed25519(settings.key_path("portal"), generate=False)
    return BuyerSignIn(
        pool,
        keyring,
        auth,
        pseudonyms,
        code_channels(settings),
        code_key,
        identifier_limiter=limiters[0],
        address_limiter=limiters[1],
    )


def build_webhooks(settings: Settings, pool: asyncpg.Pool) -> WebhookService:
    """Webhook endpoints and deliveries: the sealing key, the address-checking sender."""
    production = settings.environment == "production"
    key = keyfiles.ensure_secret(settings.key_path("webhook"), generate=not production)
    sender = WebhookSender(
        allow_private=settings.webhook_allow_private, timeout=settings.webhook_timeout_seconds
    )
    return WebhookService(
        pool, key, sender, require_https=production, language=settings.default_locale
    )


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
    query_quota: OrgQuota
    appeals: AppealService
    buyers: BuyerSignIn
    webhooks: WebhookService
    staff: StaffSignIn

    @classmethod
    def build(
        cls,
        settings: Settings,
        pool: asyncpg.Pool,
        redis: RedisClient | None,
        breaker: RedisBreaker,
        batcher: RedisBatcher | None,
        auth: Authenticator,
    ) -> RegistryParts:
        generate = settings.environment != "production"
        keyring = Keyring(
            keyfiles.load_keyring_keys(settings.key_path("registry"), generate=generate)
        )
        log_key = keyfiles.ensure_ed25519(settings.key_path("log"), generate=generate)
        access_log = AccessLog(pool, log_key)
        lookup = SubjectLookup(pool)
        ledger = Ledger(pool, keyring, log_key=log_key)
        query_limiter = RateLimiter(
            redis,
            breaker,
            namespace="rr:rl:query",
            per_second=settings.query_rate_per_second,
            per_day=settings.query_quota_per_day,
            batcher=batcher,
        )
        query_quota = OrgQuota(
            pool,
            query_limiter,
            kind=QUERY,
            default_per_day=settings.query_quota_per_day,
            cache_seconds=settings.principal_cache_seconds,
        )
        appeals = AppealService(pool, keyring, access_log)
        # A read of a buyer's record in a member's hand-off session is a query.
        appeals.charge_query = query_quota.charge
        code_limiters = (
            RateLimiter(
                redis,
                breaker,
                namespace="rr:rl:buyer-code-id",
                per_second=CODES_PER_IDENTIFIER_PER_DAY,
                per_day=CODES_PER_IDENTIFIER_PER_DAY,
                batcher=batcher,
            ),
            RateLimiter(
                redis,
                breaker,
                namespace="rr:rl:buyer-code-addr",
                per_second=CODES_PER_ADDRESS_PER_SECOND,
                per_day=CODES_PER_ADDRESS_PER_DAY,
                batcher=batcher,
            ),
        )
        return cls(
            keyring=keyring,
            log_key=log_key,
            ledger=ledger,
            access_log=access_log,
            lookup=lookup,
            risk=RiskService(keyring, lookup, access_log, settings.public_url, quota=query_quota),
            query_limiter=query_limiter,
            query_quota=query_quota,
            appeals=appeals,
            buyers=build_buyers(settings, pool, keyring, auth, code_limiters),
            webhooks=build_webhooks(settings, pool),
            staff=StaffSignIn(pool),
        )


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    redis: RedisClient | None
    breaker: RedisBreaker
    replay: ReplayGuard
    keys: KeyCache
    auth: Authenticator
    listener: asyncpg.Connection | None = None
    registry: RegistryParts | None = None
    read_pool: asyncpg.Pool | None = None
    """The pool of ``REGISTRY_READ_DATABASE_URL``, when set (see :attr:`reader`)."""

    @property
    def reader(self) -> asyncpg.Pool:
        """Where the auditors' heavy reads go: the read replica if one is set, else the primary.

        Only reads that may lag the primary by a replica's delay belong here
        (entry listings, daily summaries). Risk answers, filings, appeals and
        anything else that decides read :attr:`pool`: they must see every
        committed report.
        """
        return self.pool if self.read_pool is None else self.read_pool

    # Further caches of principals' data to drop on a change (organisations' budgets).
    on_principals_changed: list[Callable[[], None]] = field(default_factory=list)

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

    @classmethod
    async def start(cls, settings: Settings, *, registry: bool = True) -> Runtime:
        """Connect to PostgreSQL and Redis; the URLs must be resolved by now.

        ``registry=False`` (the key service) loads neither the registry key nor
        the log key: the key service must never hold them (docs/privacy.md).
        """
        if not settings.database_url:
            raise RuntimeError("Runtime.start needs a database URL (embedded servers not attached)")
        pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        redis = create_redis(settings.redis_url) if settings.redis_url else None
        breaker = RedisBreaker()
        batcher = RedisBatcher(redis) if redis is not None else None
        replay = ReplayGuard(
            redis, breaker, fallback=settings.jti_fallback, batcher=batcher, pool=pool
        )

        async def load_key(kid: str) -> dict[str, Any] | None:
            return await principal_store.get_key(pool, kid)

        keys = KeyCache(load_key, settings.principal_cache_seconds)
        auth = Authenticator(
            keys, replay, audience=settings.audience, leeway=settings.clock_skew_seconds
        )
        runtime = cls(settings, pool, redis, breaker, replay, keys, auth)
        if settings.read_database_url and registry:
            runtime.read_pool = await create_pool(
                settings.read_database_url,
                min_size=settings.db_pool_min,
                max_size=settings.db_pool_max,
            )
        if registry:
            runtime.registry = RegistryParts.build(settings, pool, redis, breaker, batcher, auth)
            runtime.on_principals_changed.append(runtime.registry.query_quota.clear)
        await runtime._listen()
        return runtime

    async def _listen(self) -> None:
        """One dedicated connection hears key and principal changes from any process."""
        try:
            conn = await asyncpg.connect(self.settings.database_url, timeout=CONNECT_TIMEOUT)
            await conn.add_listener("registry_principals", self._principals_changed)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning(
                "cannot LISTEN for key changes; relying on cache expiry", extra={"error": str(exc)}
            )
            return
        self.listener = conn

    def _principals_changed(self, *_: object) -> None:
        self.keys.clear()
        for forget in self.on_principals_changed:
            forget()

    async def close(self) -> None:
        if self.registry is not None:
            await self.registry.access_log.close()
            await self.registry.buyers.aclose()
        if self.listener is not None:
            with contextlib.suppress(Exception):
                await self.listener.close()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()
        if self.read_pool is not None:
            await self.read_pool.close()
        await self.pool.close()
