"""The key service as its own process: a small Litestar app and its server.

The key service holds the OPRF key (docs/privacy.md) and nothing else secret:
it never reads the registry's HMAC key or the log key, and the API process
never reads this key. It shares PostgreSQL (principals, usage counts) and
Redis (``jti`` replay guard, rate limits) with the API, through the same
:class:`~refund_registry.runtime.Runtime`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Litestar, Request, get, post
from litestar.openapi import OpenAPIConfig

from refund_registry.cli import serving
from refund_registry.config import ConfigError, Settings
from refund_registry.domain import oprf
from refund_registry.http import problems
from refund_registry.http.app import live, ready
from refund_registry.http.common import EVALUATORS, authenticate, json_response
from refund_registry.keyservice import MAX_BODY_BYTES
from refund_registry.keyservice.service import NAMESPACE, KeyService
from refund_registry.runtime import Runtime
from refund_registry.services.quotas import OrgQuota
from refund_registry.storage import keyfiles
from refund_registry.storage.organisations import EVALUATION
from refund_registry.storage.ratelimit import Limits, RateLimiter

log = logging.getLogger("refund_registry.keyservice")


class EvaluateRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``POST /v1/keyservice/evaluate`` body (docs/contract.md)."""

    # The count (1-100) is checked by the service, so that it gets its own
    # problem code (keyservice.invalid_batch); the body size limit bounds it first.
    blinded: list[str]


def parse_blinded(texts: list[str]) -> list[bytes]:
    """Decode the wire form; the service checks the count and lengths before charging."""
    return [oprf.b64d(text, field_name=f"blinded[{i}]") for i, text in enumerate(texts)]


def _service(request: Request[Any, Any, Any]) -> KeyService:
    service: KeyService = request.app.state.keyservice
    return service


@post(
    "/v1/keyservice/evaluate",
    status_code=200,
    tags=["keyservice"],
    summary="Evaluate blinded elements (RFC 9497 VOPRF, ristretto255-SHA512)",
    request_max_body_size=MAX_BODY_BYTES,
)
async def evaluate(request: Request[Any, Any, Any]) -> Any:
    """Members and the registry's portal; signed request. One unit of rate limit and
    quota per element, per organisation (all its principals share them)."""
    caller, body = await authenticate(request, EVALUATORS)
    wanted = problems.decode(body, EvaluateRequest)
    result = await _service(request).evaluate(caller.principal_id, parse_blinded(wanted.blinded))
    response = json_response(
        {"evaluated": [oprf.b64e(e) for e in result.evaluated], "proof": oprf.b64e(result.proof)}
    )
    # Blinded answers are single-use; no cache anywhere should keep them.
    response.headers["Cache-Control"] = "no-store"
    return response


@get(
    "/v1/keyservice/public-key",
    tags=["keyservice"],
    summary="The public key that evaluation proofs verify against",
)
async def public_key(request: Request[Any, Any, Any]) -> Any:
    response = json_response(
        {"suite": oprf.SUITE, "public_key": oprf.b64e(_service(request).public_key)}
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def load_key(settings: Settings) -> oprf.ServerKey:
    """Read (or, outside production, generate) the 32-byte seed and derive the key pair.

    Raises :class:`ConfigError` when the file is missing in production or does
    not hold a 32-byte hex seed: the process must not start with a key that
    would silently give every buyer new pseudonyms.
    """
    path = settings.key_path("keyservice")
    production = settings.environment == "production"
    try:
        seed = keyfiles.ensure_secret(path, generate=not production, size=oprf.SEED_LEN)
    except FileNotFoundError:
        raise ConfigError(
            [
                f"REGISTRY_KEYSERVICE_KEY_FILE: {path} does not exist "
                "(no generated keys in production)"
            ]
        ) from None
    except ValueError as exc:
        raise ConfigError([f"REGISTRY_KEYSERVICE_KEY_FILE: {exc}"]) from None
    return oprf.load_server_key(seed)


def configured_limits(settings: Settings) -> Limits:
    """Per organisation, in evaluations (blinded elements); defaults in ``Settings``."""
    return Limits(
        per_second=settings.keyservice_rate_per_second,
        per_day=settings.keyservice_quota_per_day,
    )


def build_service(rt: Runtime, key: oprf.ServerKey, limits: Limits) -> KeyService:
    """The key service over ``rt``; ``limits`` are per organisation (its default quota)."""
    limiter = RateLimiter(
        rt.redis,
        rt.breaker,
        namespace=NAMESPACE,
        per_second=limits.per_second,
        per_day=limits.per_day,
        batcher=rt.replay.batcher,
    )
    quota = OrgQuota(
        rt.pool,
        limiter,
        kind=EVALUATION,
        default_per_day=limits.per_day,
        cache_seconds=rt.settings.principal_cache_seconds,
    )
    rt.on_principals_changed.append(quota.clear)
    return KeyService(key, quota, rt.pool)


def create_keyservice_app(
    settings: Settings,
    *,
    runtime_override: Runtime | None = None,
    limits: Limits | None = None,
) -> Litestar:
    """Build the key-service app.

    The key is loaded here rather than in the lifespan so that a missing or
    malformed key file fails before a port is bound, with a clear message.
    Connections are opened by the lifespan, unless ``runtime_override`` is
    given (tests, which drive the app without a lifespan).
    """
    key = load_key(settings)
    chosen = limits or configured_limits(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if runtime_override is not None:
            yield
            return
        rt = await Runtime.start(settings, registry=False)
        app.state.runtime = rt
        app.state.keyservice = build_service(rt, key, chosen)
        try:
            yield
        finally:
            await rt.close()

    app = Litestar(
        route_handlers=[live, ready, evaluate, public_key],
        lifespan=[lifespan],
        exception_handlers=problems.exception_handlers(),
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="Refund Registry key service",
            version="1.0.0",
            description=(
                "RFC 9497 VOPRF (ristretto255-SHA512) evaluation of blinded identifiers. "
                "Evaluation takes a signed member request (docs/contract.md)."
            ),
            path="/schema",
        ),
        debug=False,
        logging_config=None,
    )
    if runtime_override is not None:
        app.state.runtime = runtime_override
        app.state.keyservice = build_service(runtime_override, key, chosen)
    return app


def run_keyservice(settings: Settings) -> None:
    """Serve the key service on ``settings.host:settings.keyservice_port`` until stopped.

    Preconditions: ``settings.database_url`` and ``settings.redis_url`` point at
    running servers (the CLI resolves embedded ones first) and migrations have
    been applied. Returns after a graceful shutdown on SIGTERM or SIGINT.
    Raises :class:`ConfigError` for a missing key file in production.
    """
    app = create_keyservice_app(settings)
    log.info(
        "key service serving",
        extra={"url": f"http://{settings.host}:{settings.keyservice_port}"},
    )
    serving.serve(app, settings.host, settings.keyservice_port)
    log.info("key service stopped")
