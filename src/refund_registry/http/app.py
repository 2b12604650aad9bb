"""The Litestar application factory: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec

from refund_registry import errors
from refund_registry.config import Settings
from refund_registry.http import edge, keyservice_proxy, openapi_ui, problems
from refund_registry.http.answers import Liveness, Readiness, WhoAmI
from refund_registry.http.common import (
    ALL_ROLES,
    StrictBodies,
    answer,
    caller_of,
    runtime,
    signed,
)
from refund_registry.http.metrics import MetricsAccess, metrics
from refund_registry.http.openapi import AUTH, errors_for, openapi_config
from refund_registry.runtime import Runtime
from refund_registry.services.duties import Duties
from refund_registry.services.quotas import keep_gauges
from refund_registry.services.sequencer import run_sequencer
from refund_registry.services.witnessing import run_collector
from refund_registry.storage.db import ping
from refund_registry.web import areas, console, portal


@get("/health/live", tags=["operations"], summary="Liveness")
async def live() -> Liveness:
    return Liveness(status="ok")


@get(
    "/health/ready",
    tags=["operations"],
    summary="Readiness: PostgreSQL, Redis and the key service",
    responses={
        503: ResponseSpec(
            data_container=Readiness, description="PostgreSQL is unreachable: status `down`"
        )
    },
)
async def ready(request: Request[Any, Any, Any]) -> Response[Readiness]:
    """503 when PostgreSQL is unreachable; 200 ``degraded`` when Redis or the key service is.

    Without Redis the service still answers correctly (slower, with the stated
    fallbacks), so a load balancer should keep sending it traffic. Without the
    key service risk queries and reports still answer; only pseudonymisation
    through the registry (the forwarded evaluate route, buyer sign-in) fails.
    The key-service process serves this same route and does not probe itself;
    an API with no key-service URL configured reports it ``not configured``.
    """
    rt = runtime(request)
    checks: dict[str, str] = {}
    try:
        await ping(rt.pool)
        checks["postgres"] = "ok"
    except errors.Unavailable as exc:
        cause = exc.__cause__ or exc
        checks["postgres"] = f"down: {cause.__class__.__name__}"
    if rt.redis is None:
        checks["redis"] = "not configured"
    else:
        try:
            await asyncio.wait_for(rt.redis.ping(), timeout=1)
            rt.breaker.succeeded()
            checks["redis"] = "ok"
        except (Exception, TimeoutError) as exc:
            rt.breaker.failed(exc)
            checks["redis"] = f"degraded: {exc.__class__.__name__}"
    if request.app.state.get("keyservice") is None:
        # An API without a key-service URL (tests, an API run on its own) has
        # nothing to probe; that alone does not make it degraded.
        if rt.settings.keyservice_url:
            checks["keyservice"] = await keyservice_proxy.probe(request.app, rt.settings)
        else:
            checks["keyservice"] = "not configured"
    keyservice_ok = checks.get("keyservice", "ok") in ("ok", "not configured")
    if checks["postgres"] != "ok":
        status, code = "down", 503
    elif checks["redis"] != "ok" or not keyservice_ok:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return answer({"status": status, "checks": checks}, Readiness, status=code)


@get(
    "/v1/whoami",
    tags=["operations"],
    summary="Check a signed request; echo the caller",
    responses=errors_for(AUTH, ("request.too_large",)),
    **signed(ALL_ROLES),
)
async def whoami(request: Request[Any, Any, Any]) -> WhoAmI:
    """A no-op for members to test their request signing (and for benchmarks)."""
    caller = caller_of(request)
    return WhoAmI(principal=caller.principal_id, role=caller.role)


def tune_gc() -> None:
    """Garbage-collector settings for a long-running API process.

    Everything built at start-up lives for the whole process: frozen, it stays
    out of the full passes, which otherwise walk ~70k objects and stall every
    connection (p99 51 -> 16 ms, measured). A young generation of 10,000
    objects instead of 700: a bulk upload allocates millions, and at the
    default the collector ran ~100 ms per 10,000-report upload (measured).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def runs_worker(settings: Settings) -> bool:
    """Whether this API process also runs the worker's duties (``REGISTRY_SERVE_WORKER``).

    ``auto``: in zero-setup mode, recognised by the embedded cluster's key-service
    login that only zero-setup start-up fills in, so that one ``serve`` runs the
    whole registry; elsewhere ``refund-registry worker`` runs them.
    """
    if settings.serve_worker == "auto":
        return bool(settings.keyservice_database_url)
    return settings.serve_worker == "on"


def _exception_handlers() -> dict[Any, Any]:
    """The API's problem documents, except under the portal and the console (their pages)."""
    handlers: dict[Any, Any] = dict(problems.exception_handlers())
    handlers[HTTPException] = areas.pages_first(handlers[HTTPException])
    return handlers


def create_app(settings: Settings, *, runtime_override: Runtime | None = None) -> Litestar:
    """Build the app; its lifespan opens this process's connections unless given a runtime."""
    from refund_registry.http.routes import all_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if runtime_override is not None:
            yield
            return
        rt = await Runtime.start(settings)
        app.state.runtime = rt
        # Every API process stands by as the access-log sequencer; one of them
        # holds the advisory lock and integrates entries within about a second.
        stop = asyncio.Event()
        sequencer = asyncio.create_task(
            run_sequencer(rt.pool, rt.parts.log_key, stop=stop), name="sequencer"
        )
        gauges = asyncio.create_task(
            keep_gauges(
                rt.pool,
                stop,
                default_evaluations=settings.keyservice_quota_per_day,
                default_queries=settings.query_quota_per_day,
            ),
            name="org-gauges",
        )
        # Beside it, never in its way: checkpoints go to the witnesses for cosigning.
        collector = asyncio.create_task(
            run_collector(rt.pool, settings.witnesses, stop=stop), name="witness-collector"
        )
        worker = (
            asyncio.create_task(
                Duties(rt.pool, rt.ledger, rt.parts.appeals, rt.parts.webhooks).run(stop),
                name="worker",
            )
            if runs_worker(settings)
            else None
        )
        tune_gc()
        try:
            yield
        finally:
            stop.set()
            await sequencer
            await gauges
            await collector
            if worker is not None:
                await worker
            await rt.close()

    app = Litestar(
        route_handlers=[
            live,
            ready,
            whoami,
            metrics,
            *all_routes(settings),
            *portal.routes(settings),
            *console.routes(settings),
            openapi_ui.assets_router(),
        ],
        template_config=portal.template_config(),
        plugins=[StrictBodies()],
        lifespan=[lifespan],
        exception_handlers=_exception_handlers(),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_ui.offline(openapi_config()),
        debug=False,
        logging_config=None,
        on_shutdown=[keyservice_proxy.close],
    )
    if runtime_override is not None:
        app.state.runtime = runtime_override
    app.state.metrics_access = MetricsAccess.from_settings(settings)
    # Language headers and request metrics, around everything Litestar answers.
    return edge.install(app)
