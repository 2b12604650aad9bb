"""Settings: one frozen object, read from the environment once and passed in.

Every variable carries the ``REGISTRY_`` prefix, except the two connection URLs
that hosting platforms conventionally set (``DATABASE_URL`` and ``REDIS_URL``;
the prefixed spellings are accepted too). Validation collects every bad value
so that start-up prints one clear line per problem instead of failing on the
first one.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from refund_registry.config_values import boolean as _bool
from refund_registry.config_values import choice as _choice
from refund_registry.config_values import integer as _int
from refund_registry.config_values import nonempty as _nonempty
from refund_registry.config_values import number as _float
from refund_registry.config_values import token as _token
from refund_registry.config_values import url as _url
from refund_registry.domain.quotas import EVALUATION_CEILING, QUERY_CEILING
from refund_registry.domain.witnessing import ConfiguredWitness, parse_witnesses


class ConfigError(Exception):
    """Raised with one line per invalid setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("refund-registry", appauthor=False))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service reads from its environment.

    ``database_url`` / ``redis_url`` empty means zero-setup mode: the embedded
    PostgreSQL and Valkey of ``data_dir`` are used (started if needed).
    """

    environment: str = "development"
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str = ""
    redis_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    # The ``aud`` that signed tokens must carry: this registry's public URL
    # unless set, so that a token minted for one deployment is refused by
    # every other.
    audience: str = ""
    public_url: str = "http://127.0.0.1:8080"
    clock_skew_seconds: int = 30
    max_body_bytes: int = 1_048_576
    max_bulk_body_bytes: int = 16_777_216
    # Limits of the server before any request reaches the application
    # (docs/operations.md): the request line and headers of one request, the
    # seconds they may take to arrive in full, an idle keep-alive connection's
    # seconds, and the connections and requests served at once (beyond it,
    # 503). Run behind a buffering reverse proxy all the same.
    max_header_bytes: int = 16_384
    header_timeout_seconds: float = 10.0
    keep_alive_seconds: int = 5
    max_concurrency: int = 1000
    # ``serve``: worker processes (0: one per core in production, one otherwise),
    # and the proxies whose X-Forwarded-For / X-Forwarded-Proto are believed
    # (none unless listed: a forged header must not pass for a loopback client).
    workers: int = 0
    forwarded_allow_ips: tuple[str, ...] = ()
    db_pool_min: int = 2
    db_pool_max: int = 10
    log_level: str = "INFO"
    log_key_file: Path | None = None
    registry_key_file: Path | None = None
    principal_cache_seconds: float = 5.0
    # The replay guard's policy while Redis is down (``storage/cache.py``):
    # ``database`` in production unless set, ``memory`` elsewhere.
    jti_fallback: str = "memory"
    keyservice_url: str = ""
    keyservice_port: int = 8081
    keyservice_key_file: Path | None = None
    # Key-service limits per organisation (all its principals together), in
    # evaluations (blinded elements). 1,000 a second admits ten full batches:
    # far above a refund desk's needs and about a tenth of one key-service
    # process (~10k evaluations/s), so one organisation cannot starve the
    # others. The daily quota bounds brute force: sweeping the ~1.7 billion
    # allocated Chinese mobile numbers would take over four years. Risk queries
    # are counted per identifier looked up; 5,000 a second admits one full
    # batch (1,000 queries of up to five identifiers). Daily defaults may not
    # exceed the ceilings of ``domain/quotas.py``; an organisation above them
    # takes `principals quota --above-ceiling`.
    keyservice_rate_per_second: int = 1000
    keyservice_quota_per_day: int = 1_000_000
    query_rate_per_second: int = 5000
    query_quota_per_day: int = 2_000_000
    metrics_allow: tuple[str, ...] = ()
    # The bearer token Prometheus sends to ``/metrics``; required in production
    # (without it ``/metrics`` refuses everybody there).
    metrics_token: str = field(default="", repr=False)
    # A second PostgreSQL URL (a streaming replica) for the auditors' heavy
    # reads: entry listings and daily summaries. Empty: they read the primary.
    # Nothing that decides (risk answers, filings, appeals) ever reads it.
    read_database_url: str = field(default="", repr=False)
    # The migration owner's URL: only ``migrate`` and key rotation log in with
    # it. Outside production it defaults to ``database_url``; in production the
    # API's own login role must not be able to change the schema.
    owner_database_url: str = ""
    # The OS users of the two processes that must never share a key folder: the
    # key service refuses to run as ``api_user``, the API as ``keyservice_user``.
    api_user: str = ""
    keyservice_user: str = ""
    # Zero-setup only, never read from the environment: the key service's own
    # login URL on the embedded cluster, for the key-service child of ``serve``.
    keyservice_database_url: str = ""
    # Buyer sign-in. One-time codes travel by e-mail (SMTP) and SMS (a signed HTTP
    # gateway); in zero-setup mode a channel left unset writes to the outbox file
    # of the data folder instead, and in production both must be set.
    smtp_url: str = ""
    smtp_starttls: bool = False
    smtp_from: str = "Refund Registry <no-reply@refund-registry.example>"
    sms_gateway_url: str = ""
    sms_gateway_secret: str = ""
    # The keyed hash of stored codes (32 bytes, hex); generated in the data folder
    # outside production.
    buyer_code_key_file: Path | None = None
    # The registry's own portal principal (role ``portal``), which derives the
    # pseudonyms of buyers who sign in with a code. Zero-setup mode registers
    # one itself, with a key in the data folder; production names it here.
    portal_principal: str = ""
    portal_kid: str = ""
    portal_key_file: Path | None = None
    # The key service's public key (unpadded base64url), pinned for proof
    # checks; zero-setup mode reads it from the key service once.
    keyservice_public_key: str = ""
    # Webhooks. Signing secrets are stored sealed with this key (32 bytes, hex;
    # generated in the data folder outside production). Deliveries never go to
    # a loopback, private, link-local, multicast or reserved address unless
    # ``webhook_allow_private`` (tests and single-machine set-ups only).
    webhook_key_file: Path | None = None
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = 10.0
    # Whether ``serve`` also runs the worker's duties (deliveries, appeal
    # deadlines, expiry): ``auto`` does so in zero-setup mode only.
    serve_worker: str = "auto"
    # The language of API answers when the request's Accept-Language names
    # none the registry speaks (``zh-CN`` or ``en``).
    default_locale: str = "zh-CN"
    # Staff sign-in to the console with the organisation's OpenID Connect
    # provider (authorization code + PKCE). Empty issuer: the console offers
    # only one-time links (``refund-registry console link``). The redirect URI
    # to register at the provider is ``<public_url>/console/oidc/callback``.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid"
    # Witnesses the checkpoints are submitted to (``REGISTRY_WITNESSES``, comma-separated
    # "<URL> <witness verifier key>") and how many cosignatures make a checkpoint
    # witnessed in the registry's stated policy (``REGISTRY_WITNESS_QUORUM``, k of n).
    witnesses: tuple[ConfiguredWitness, ...] = ()
    witness_quorum: int = 0
    # The names of the settings the environment set explicitly; every other one
    # holds its default. ``serve`` picks a free key-service port unless one was given.
    given: frozenset[str] = frozenset()

    @property
    def embedded(self) -> bool:
        """True when at least one backing server comes from the data folder."""
        return not (self.database_url and self.redis_url)

    @property
    def migration_database_url(self) -> str:
        """The URL that may change the schema; empty in production unless one is given."""
        if self.owner_database_url:
            return self.owner_database_url
        return "" if self.environment == "production" else self.database_url

    def key_path(self, name: str) -> Path:
        """Where a key lives when its file is not configured explicitly."""
        explicit: Path | None = getattr(self, f"{name}_key_file")
        return explicit if explicit is not None else self.data_dir / "keys" / f"{name}.key"

    def __post_init__(self) -> None:
        if not self.audience:
            object.__setattr__(self, "audience", self.public_url.rstrip("/"))

    def with_overrides(self, **changes: Any) -> Settings:
        """These settings with ``changes``; an audience derived from the public URL follows it."""
        derived = self.audience == self.public_url.rstrip("/") and "audience" not in self.given
        if "public_url" in changes and "audience" not in changes and derived:
            changes["audience"] = ""  # filled in again from the new public URL
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raise ConfigError on bad values."""
        env = os.environ if env is None else env
        problems: list[str] = []
        values: dict[str, Any] = {}

        def read(name: str, parse: Callable[[str], Any], *aliases: str) -> None:
            for var in (f"REGISTRY_{name.upper()}", *aliases):
                raw = env.get(var)
                if raw is None or raw == "":
                    continue
                try:
                    values[name] = parse(raw)
                except ValueError as exc:
                    problems.append(f"{var}={raw!r}: {exc}")
                return

        read("environment", _choice("development", "production", "test"))
        read("data_dir", lambda v: Path(v).expanduser())
        read("database_url", _url("postgres", "postgresql"), "DATABASE_URL")
        read(
            "redis_url",
            # ``…+cluster://host:port,host:port``: a Valkey Cluster (storage/redis_client.py)
            _url(
                "redis",
                "rediss",
                "valkey",
                "unix",
                "redis+cluster",
                "rediss+cluster",
                "valkey+cluster",
            ),
            "REDIS_URL",
        )
        read("host", str)
        read("port", _int(1, 65535))
        read("audience", _nonempty)
        read("public_url", _url("http", "https"))
        read("clock_skew_seconds", _int(0, 300))
        read("max_body_bytes", _int(1024, 64 * 1024 * 1024))
        read("max_bulk_body_bytes", _int(1024, 256 * 1024 * 1024))
        read("max_header_bytes", _int(4096, 1024 * 1024))
        read("header_timeout_seconds", _float(1.0, 300.0))
        read("keep_alive_seconds", _int(1, 300))
        read("max_concurrency", _int(1, 1_000_000))
        read("workers", _int(0, 512))
        read("forwarded_allow_ips", lambda v: tuple(a.strip() for a in v.split(",") if a.strip()))
        read("db_pool_min", _int(1, 1000))
        read("db_pool_max", _int(1, 1000))
        read("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True))
        read("log_key_file", lambda v: Path(v).expanduser())
        read("registry_key_file", lambda v: Path(v).expanduser())
        read("principal_cache_seconds", _float(0.0, 3600.0))
        read("jti_fallback", _choice("database", "memory", "refuse"))
        read("keyservice_url", _url("http", "https"))
        read("keyservice_port", _int(1, 65535))
        read("keyservice_key_file", lambda v: Path(v).expanduser())
        read("keyservice_rate_per_second", _int(100, 1_000_000))  # >= one full batch
        read("keyservice_quota_per_day", _int(1, EVALUATION_CEILING))
        read("query_rate_per_second", _int(5000, 1_000_000))  # >= one full batch query
        read("query_quota_per_day", _int(1, QUERY_CEILING))
        read("metrics_allow", lambda v: tuple(a.strip() for a in v.split(",") if a.strip()))
        read("metrics_token", _token)
        read("read_database_url", _url("postgres", "postgresql"))
        read("smtp_url", _url("smtp", "smtps"))
        read("smtp_starttls", _bool)
        read("smtp_from", _nonempty)
        read("sms_gateway_url", _url("http", "https"))
        read("sms_gateway_secret", _nonempty)
        read("buyer_code_key_file", lambda v: Path(v).expanduser())
        read("portal_principal", _nonempty)
        read("portal_kid", _nonempty)
        read("portal_key_file", lambda v: Path(v).expanduser())
        read("keyservice_public_key", _nonempty)
        read("owner_database_url", _url("postgres", "postgresql"))
        read("api_user", _nonempty)
        read("keyservice_user", _nonempty)
        read("webhook_key_file", lambda v: Path(v).expanduser())
        read("webhook_allow_private", _bool)
        read("webhook_timeout_seconds", _float(1.0, 30.0))
        read("serve_worker", _choice("auto", "on", "off"))
        read("default_locale", _choice("zh-CN", "en"))
        read("oidc_issuer", _url("http", "https"))
        read("oidc_client_id", _nonempty)
        read("oidc_client_secret", _nonempty)
        read("oidc_scopes", _nonempty)
        read("witnesses", parse_witnesses)
        read("witness_quorum", _int(0, 100))

        given = frozenset(values)
        if values.get("environment") == "production":
            values.setdefault("jti_fallback", "database")
        settings = cls(**values, given=given)
        if settings.db_pool_min > settings.db_pool_max:
            problems.append("REGISTRY_DB_POOL_MIN must not exceed REGISTRY_DB_POOL_MAX")
        if settings.environment == "production":
            if not settings.database_url:
                problems.append("DATABASE_URL is required when REGISTRY_ENVIRONMENT=production")
            if not settings.redis_url:
                problems.append("REDIS_URL is required when REGISTRY_ENVIRONMENT=production")
            if not {"public_url", "audience"} & given:
                # The default URL would make every deployment's tokens good at every other.
                problems.append(
                    "REGISTRY_PUBLIC_URL is required when REGISTRY_ENVIRONMENT=production "
                    "(it is also the token audience, one per deployment)"
                )
            for name in ("log", "registry"):
                if getattr(settings, f"{name}_key_file") is None:
                    problems.append(
                        f"REGISTRY_{name.upper()}_KEY_FILE is required when "
                        "REGISTRY_ENVIRONMENT=production (no generated keys in production)"
                    )
        problems.extend(_buyer_signin_problems(settings))
        problems.extend(_oidc_problems(settings))
        if settings.witness_quorum > len(settings.witnesses):
            problems.append(
                f"REGISTRY_WITNESS_QUORUM={settings.witness_quorum} is more than the "
                f"{len(settings.witnesses)} witnesses in REGISTRY_WITNESSES"
            )
        if settings.environment == "production" and settings.webhook_key_file is None:
            problems.append(
                "REGISTRY_WEBHOOK_KEY_FILE is required when REGISTRY_ENVIRONMENT=production "
                "(it seals the webhook signing secrets)"
            )
        if problems:
            raise ConfigError(problems)
        return settings


def _buyer_signin_problems(settings: Settings) -> list[str]:
    """Buyer sign-in: in production real channels, named keys, no generated secrets."""
    problems = []
    if bool(settings.sms_gateway_url) != bool(settings.sms_gateway_secret):
        problems.append("REGISTRY_SMS_GATEWAY_URL and REGISTRY_SMS_GATEWAY_SECRET go together")
    if settings.environment != "production":
        return problems
    required = {
        "REGISTRY_SMTP_URL": settings.smtp_url,
        "REGISTRY_SMTP_FROM": "smtp_from" in settings.given,
        "REGISTRY_SMS_GATEWAY_URL": settings.sms_gateway_url,
        "REGISTRY_SMS_GATEWAY_SECRET": settings.sms_gateway_secret,
        "REGISTRY_BUYER_CODE_KEY_FILE": settings.buyer_code_key_file,
        "REGISTRY_PORTAL_PRINCIPAL": settings.portal_principal,
        "REGISTRY_PORTAL_KID": settings.portal_kid,
        "REGISTRY_PORTAL_KEY_FILE": settings.portal_key_file,
        "REGISTRY_KEYSERVICE_PUBLIC_KEY": settings.keyservice_public_key,
    }
    problems.extend(
        f"{name} is required when REGISTRY_ENVIRONMENT=production (buyer sign-in)"
        for name, value in required.items()
        if not value
    )
    return problems


def _oidc_problems(settings: Settings) -> list[str]:
    """The console's identity provider: all three settings or none; https in production."""
    given = [bool(settings.oidc_issuer), bool(settings.oidc_client_id)]
    problems = []
    if any(given) and not all(given):
        problems.append("REGISTRY_OIDC_ISSUER and REGISTRY_OIDC_CLIENT_ID go together")
    if "openid" not in settings.oidc_scopes.split():
        problems.append("REGISTRY_OIDC_SCOPES must include openid")
    if (
        settings.environment == "production"
        and settings.oidc_issuer
        and not settings.oidc_issuer.startswith("https://")
    ):
        problems.append("REGISTRY_OIDC_ISSUER must be https when REGISTRY_ENVIRONMENT=production")
    return problems
