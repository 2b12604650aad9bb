"""``/metrics``: what an operator alerts on, computed when Prometheus asks.

Two kinds of figures are served. The request counters and latencies
(``http/request_metrics.py``) and the access log's flush histogram live in
the process-wide registry and are updated where they happen. Everything else is
a gauge read at scrape time by :class:`OperatorCollector`, so the request path
pays nothing for it: the pools' and the group-commit queue's sizes from this
process's objects, the log's progress, open appeals and webhook backlogs from
PostgreSQL (``storage/operations.py``, each read bounded to a few seconds).
When PostgreSQL does not answer, the scrape still answers, with
``registry_database_up 0`` and without the database-read gauges.

The route is for the operator only: loopback clients and the addresses of
``REGISTRY_METRICS_ALLOW``, and, when ``REGISTRY_METRICS_TOKEN`` is set,
only with ``Authorization: Bearer <token>``. In production the token is
required: without one configured, ``/metrics`` refuses everybody.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from refund_registry import errors
from refund_registry.config import Settings
from refund_registry.http.common import runtime
from refund_registry.runtime import Runtime
from refund_registry.services.sequencer import MAX_MERGE_DELAY
from refund_registry.storage.operations import COUNT_CAP, OperationsState, read_state

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BEARER = "bearer "


@dataclass(frozen=True, slots=True)
class MetricsAccess:
    """Who may read ``/metrics``: addresses, and the bearer token when one is set."""

    allow: frozenset[str]
    token: bytes
    token_required: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> MetricsAccess:
        return cls(
            allow=frozenset({"127.0.0.1", "::1", *settings.metrics_allow}),
            token=settings.metrics_token.encode(),
            token_required=settings.environment == "production",
        )

    def check(self, client: str, authorization: str | None) -> None:
        """Raise unless this client may read the metrics.

        The address is checked first (403), then the token (401). The token is
        compared in constant time, as bytes, so its length and content leak
        nothing through timing beyond what ``hmac.compare_digest`` allows.
        """
        if client not in self.allow:
            raise errors.Forbidden(
                "metrics are served to the operator only", code="auth.operator_only"
            )
        if not self.token:
            if self.token_required:
                raise errors.AuthenticationFailed(
                    "metrics need REGISTRY_METRICS_TOKEN in production; none is set",
                    code="auth.metrics_token",
                )
            return
        given = authorization or ""
        if given[: len(_BEARER)].lower() != _BEARER:
            raise errors.AuthenticationFailed(
                "metrics need Authorization: Bearer <REGISTRY_METRICS_TOKEN>",
                code="auth.metrics_token",
            )
        if not hmac.compare_digest(given[len(_BEARER) :].strip().encode(), self.token):
            raise errors.AuthenticationFailed(
                "the metrics token is wrong", code="auth.metrics_token"
            )


def operator_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of ``/metrics``: a Prometheus scraper cannot sign requests, so
    the network position and a shared bearer token stand in for a signature."""
    access: MetricsAccess = connection.app.state.metrics_access
    client = connection.client.host if connection.client else ""
    access.check(client, connection.headers.get("authorization"))


def _gauge(name: str, doc: str, value: float, **labels: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def _age(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())


def _pool_metrics(pools: dict[str, asyncpg.Pool]) -> Iterator[Metric]:
    size = GaugeMetricFamily("registry_db_pool_size", "Open connections", labels=["pool"])
    busy = GaugeMetricFamily(
        "registry_db_pool_in_use", "Connections lent to a task", labels=["pool"]
    )
    idle = GaugeMetricFamily("registry_db_pool_idle", "Open connections not lent", labels=["pool"])
    top = GaugeMetricFamily(
        "registry_db_pool_max", "Most connections the pool opens", labels=["pool"]
    )
    for name, pool in pools.items():
        opened, free = pool.get_size(), pool.get_idle_size()
        size.add_metric([name], opened)
        busy.add_metric([name], opened - free)
        idle.add_metric([name], free)
        top.add_metric([name], pool.get_max_size())
    yield from (size, busy, idle, top)


def _log_metrics(state: OperationsState, now: datetime) -> Iterator[Metric]:
    log = state.log
    yield _gauge("registry_log_tree_size", "Entries in the access log's Merkle tree", log.tree_size)
    yield _gauge(
        "registry_sequencer_lag_entries",
        f"Logged entries not yet in the tree (counted up to {COUNT_CAP})",
        log.pending,
    )
    yield _gauge(
        "registry_sequencer_oldest_pending_seconds",
        "Age of the oldest logged entry not yet in the tree (0: none)",
        _age(now, log.oldest_pending_at),
    )
    yield _gauge(
        "registry_checkpoint_size",
        "Tree size of the latest signed checkpoint (-1: none yet)",
        -1 if log.checkpoint_size is None else log.checkpoint_size,
    )
    yield _gauge(
        "registry_checkpoint_age_seconds",
        "Seconds since the latest checkpoint was signed (0: none yet)",
        _age(now, log.checkpoint_at),
    )
    yield _gauge(
        "registry_merge_delay_seconds",
        "Age of the oldest receipted entry not yet in a signed checkpoint (0: none)",
        _age(now, log.oldest_unpublished_at),
    )


def _appeal_metrics(state: OperationsState, now: datetime) -> Iterator[Metric]:
    count = GaugeMetricFamily("registry_appeals_open", "Open appeals", labels=["state"])
    nearest = GaugeMetricFamily(
        "registry_appeals_nearest_deadline_days",
        "Days until the nearest deadline of an open appeal (negative: overdue, "
        "the deadline worker overturns the report on its next pass)",
        labels=["state"],
    )
    seen = {a.state: a for a in state.appeals}
    for name in ("awaiting_member", "awaiting_adjudication"):
        found = seen.get(name)
        count.add_metric([name], 0 if found is None else found.open)
        if found is not None and found.nearest_due is not None:
            nearest.add_metric([name], (found.nearest_due - now).total_seconds() / 86_400)
    yield from (count, nearest)


def _webhook_metrics(state: OperationsState, now: datetime) -> Iterator[Metric]:
    hooks = state.webhooks
    endpoints = GaugeMetricFamily(
        "registry_webhook_endpoints", "Webhook endpoints by status", labels=["status"]
    )
    endpoints.add_metric(["active"], hooks.active)
    endpoints.add_metric(["disabled"], hooks.disabled)
    yield endpoints
    yield _gauge(
        "registry_webhook_backlog_endpoints", "Active endpoints with events waiting", hooks.behind
    )
    yield _gauge(
        "registry_webhook_backlog_events",
        "Events waiting for delivery, over every active endpoint (capped per endpoint)",
        hooks.waiting,
    )
    yield _gauge(
        "registry_webhook_oldest_pending_seconds",
        "Age of the oldest event waiting for an active endpoint (0: none)",
        _age(now, hooks.oldest_at),
    )


class OperatorCollector(Collector):
    """The gauges of one scrape: this process's objects, and one database reading."""

    def __init__(self, rt: Runtime, state: OperationsState | None, now: datetime) -> None:
        self.rt = rt
        self.state = state
        self.now = now

    def collect(self) -> Iterator[Metric]:
        rt = self.rt
        yield _gauge(
            "registry_merge_delay_promise_seconds",
            "Seconds within which a receipted entry is promised to be in a checkpoint",
            MAX_MERGE_DELAY,
        )
        yield _gauge(
            "registry_redis_fallback_active",
            "1 while Redis is unreachable (or not configured) and the fallbacks answer",
            1 if rt.redis is None or rt.breaker.degraded else 0,
        )
        pools = {"primary": rt.pool}
        if rt.read_pool is not None:
            pools["read"] = rt.read_pool
        yield from _pool_metrics(pools)
        if rt.registry is not None:
            yield _gauge(
                "registry_access_log_queue_entries",
                "Access-log entries waiting for the next group commit",
                rt.registry.access_log.queued,
            )
        yield _gauge(
            "registry_database_up",
            "1 when this scrape's reads of PostgreSQL answered in time",
            0 if self.state is None else 1,
        )
        if self.state is not None:
            yield from _log_metrics(self.state, self.now)
            yield from _appeal_metrics(self.state, self.now)
            yield from _webhook_metrics(self.state, self.now)


async def exposition(rt: Runtime) -> bytes:
    """The text of one scrape: the process-wide registry, then this scrape's gauges."""
    state: OperationsState | None
    try:
        state = await read_state(rt.pool)
    except errors.Unavailable:
        state = None
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(OperatorCollector(rt, state, datetime.now(UTC)))
    return generate_latest(REGISTRY) + generate_latest(scrape)


@get("/metrics", include_in_schema=False, guards=[operator_only])
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(await exposition(runtime(request)), media_type=CONTENT_TYPE)
