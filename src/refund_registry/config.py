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
    audience: str = "refund-registry"
    public_url: str = "http://127.0.0.1:8080"
    clock_skew_seconds: int = 30
    max_body_bytes: int = 1_048_576
    max_bulk_body_bytes: int = 16_777_216
    db_pool_min: int = 2
    db_pool_max: int = 10
    log_level: str = "INFO"
    log_key_file: Path | None = None
    registry_key_file: Path | None = None
    principal_cache_seconds: float = 5.0
    jti_fallback: str = "memory"
    keyservice_url: str = ""
    keyservice_port: int = 8081
    keyservice_key_file: Path | None = None
    # Key-service limits per member, in evaluations (blinded elements). 1,000 a
    # second admits ten full batches: far above a refund desk's needs and about
    # a tenth of one key-service process (~10k evaluations/s), so one member
    # cannot starve the others. The daily quota bounds brute force: sweeping the
    # ~1.7 billion allocated Chinese mobile numbers would take over four years.
    keyservice_rate_per_second: int = 1000
    keyservice_quota_per_day: int = 1_000_000
    query_rate_per_second: int = 2000
    query_quota_per_day: int = 2_000_000
    metrics_allow: tuple[str, ...] = ()

    @property
    def embedded(self) -> bool:
        """True when at least one backing server comes from the data folder."""
        return not (self.database_url and self.redis_url)

    def key_path(self, name: str) -> Path:
        """Where a key lives when its file is not configured explicitly."""
        explicit: Path | None = getattr(self, f"{name}_key_file")
        return explicit if explicit is not None else self.data_dir / "keys" / f"{name}.key"

    def with_overrides(self, **changes: Any) -> Settings:
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
        read("redis_url", _url("redis", "rediss", "valkey", "unix"), "REDIS_URL")
        read("host", str)
        read("port", _int(1, 65535))
        read("audience", _nonempty)
        read("public_url", _url("http", "https"))
        read("clock_skew_seconds", _int(0, 300))
        read("max_body_bytes", _int(1024, 64 * 1024 * 1024))
        read("max_bulk_body_bytes", _int(1024, 256 * 1024 * 1024))
        read("db_pool_min", _int(1, 1000))
        read("db_pool_max", _int(1, 1000))
        read("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR", upper=True))
        read("log_key_file", lambda v: Path(v).expanduser())
        read("registry_key_file", lambda v: Path(v).expanduser())
        read("principal_cache_seconds", _float(0.0, 3600.0))
        read("jti_fallback", _choice("memory", "refuse"))
        read("keyservice_url", _url("http", "https"))
        read("keyservice_port", _int(1, 65535))
        read("keyservice_key_file", lambda v: Path(v).expanduser())
        read("keyservice_rate_per_second", _int(100, 1_000_000))  # >= one full batch
        read("keyservice_quota_per_day", _int(1, 10_000_000_000))
        read("query_rate_per_second", _int(1000, 1_000_000))  # >= one full batch query
        read("query_quota_per_day", _int(1, 10_000_000_000))
        read("metrics_allow", lambda v: tuple(a.strip() for a in v.split(",") if a.strip()))

        settings = cls(**values)
        if settings.db_pool_min > settings.db_pool_max:
            problems.append("REGISTRY_DB_POOL_MIN must not exceed REGISTRY_DB_POOL_MAX")
        if settings.environment == "production":
            if not settings.database_url:
                problems.append("DATABASE_URL is required when REGISTRY_ENVIRONMENT=production")
            if not settings.redis_url:
                problems.append("REDIS_URL is required when REGISTRY_ENVIRONMENT=production")
            for name in ("log", "registry"):
                if getattr(settings, f"{name}_key_file") is None:
                    problems.append(
                        f"REGISTRY_{name.upper()}_KEY_FILE is required when "
                        "REGISTRY_ENVIRONMENT=production (no generated keys in production)"
                    )
        if problems:
            raise ConfigError(problems)
        return settings


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be an integer") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _float(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _choice(*options: str, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        scheme, sep, rest = raw.partition("://")
        if not sep or scheme not in schemes or not rest:
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return raw

    return parse


def _nonempty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be blank")
    return raw
