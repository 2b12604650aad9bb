"""``/metrics``: the operator's gauges, read at scrape time, and who may read them."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.appeals import appeal, make_cast
from tests.support.factories import access_record, report_body
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all

TOKEN = "s3cret-metrics-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of one scrape."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


async def scrape(api: Api) -> str:
    response = await api.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def client_for(settings: Settings, runtime: Runtime, host: str = "127.0.0.1") -> httpx.AsyncClient:
    app = create_app(settings, runtime_override=runtime)
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://registry")


# --------------------------------------------------------------------------- the gauges


async def test_the_log_gauges_follow_the_sequencer(api: Api, runtime: Runtime) -> None:
    await runtime.access_log.append(access_record())
    await runtime.access_log.append(access_record())
    before = await scrape(api)
    assert value(before, "registry_database_up") == 1
    assert value(before, "registry_sequencer_lag_entries") == 2
    assert value(before, "registry_log_tree_size") == 0
    assert value(before, "registry_checkpoint_size") == -1
    assert value(before, "registry_merge_delay_seconds") >= 0
    assert value(before, "registry_merge_delay_promise_seconds") == 60

    await sequence_all(runtime.pool, runtime.parts.log_key)
    after = await scrape(api)
    assert value(after, "registry_sequencer_lag_entries") == 0
    assert value(after, "registry_sequencer_oldest_pending_seconds") == 0
    assert value(after, "registry_log_tree_size") == 2
    assert value(after, "registry_checkpoint_size") == 2
    # Every entry is in a signed checkpoint: nothing waits for one.
    assert value(after, "registry_merge_delay_seconds") == 0


async def test_group_commits_are_measured(api: Api, runtime: Runtime) -> None:
    first = await scrape(api)
    flushed = value(first, "registry_access_log_flushed_entries_total")
    flushes = value(first, "registry_access_log_flush_seconds_count")
    await runtime.access_log.append(access_record())
    second = await scrape(api)
    assert value(second, "registry_access_log_flushed_entries_total") == flushed + 1
    assert value(second, "registry_access_log_flush_seconds_count") == flushes + 1
    assert value(second, "registry_access_log_queue_entries") == 0


async def test_open_appeals_are_counted_with_their_nearest_deadline(
    api: Api, make_principal: MakePrincipal
) -> None:
    empty = await scrape(api)
    assert value(empty, "registry_appeals_open", state="awaiting_member") == 0
    assert ("registry_appeals_nearest_deadline_days", (("state", "awaiting_member"),)) not in (
        samples(empty)
    )
    cast = await make_cast(api, make_principal)
    await appeal(api, cast.buyer, cast.report_id)
    text = await scrape(api)
    assert value(text, "registry_appeals_open", state="awaiting_member") == 1
    assert value(text, "registry_appeals_open", state="awaiting_adjudication") == 0
    # The member has days to answer: the deadline lies ahead, not behind.
    assert value(text, "registry_appeals_nearest_deadline_days", state="awaiting_member") > 0


async def test_webhook_backlog_counts_events_an_endpoint_waits_for(
    api: Api, make_principal: MakePrincipal
) -> None:
    text = await scrape(api)
    assert value(text, "registry_webhook_endpoints", status="active") == 0
    assert value(text, "registry_webhook_backlog_events") == 0
    assert value(text, "registry_webhook_oldest_pending_seconds") == 0
    member = await make_principal()
    # A public address nobody delivers to here: no worker runs in this app.
    hook = {"url": "https://93.184.216.34/hooks/refund-registry"}
    assert (await api.call(member, "POST", "/v1/webhooks", hook)).status_code == 201
    assert (await api.call(member, "POST", "/v1/reports", report_body())).status_code == 201
    text = await scrape(api)
    assert value(text, "registry_webhook_endpoints", status="active") == 1
    assert value(text, "registry_webhook_backlog_endpoints") == 1
    assert value(text, "registry_webhook_backlog_events") >= 1


async def test_redis_fallback_gauge_follows_the_breaker(api: Api, runtime: Runtime) -> None:
    assert value(await scrape(api), "registry_redis_fallback_active") == 0
    runtime.breaker.failed(ConnectionError("refused"))
    assert value(await scrape(api), "registry_redis_fallback_active") == 1
    runtime.breaker.succeeded()
    assert value(await scrape(api), "registry_redis_fallback_active") == 0


async def test_pool_gauges_describe_the_pool(
    api: Api, runtime: Runtime, settings: Settings
) -> None:
    text = await scrape(api)
    size = value(text, "registry_db_pool_size", pool="primary")
    assert value(text, "registry_db_pool_max", pool="primary") == settings.db_pool_max
    assert 1 <= size <= settings.db_pool_max
    in_use = value(text, "registry_db_pool_in_use", pool="primary")
    assert in_use + value(text, "registry_db_pool_idle", pool="primary") == size
    assert ("registry_db_pool_size", (("pool", "read"),)) not in samples(text)


async def test_a_scrape_answers_when_the_database_does_not(settings: Settings) -> None:
    rt = await Runtime.start(settings)
    try:
        await rt.pool.close()
        async with client_for(settings, rt) as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert value(response.text, "registry_database_up") == 0
        assert "registry_sequencer_lag_entries" not in response.text
    finally:
        await rt.close()


# --------------------------------------------------------------------------- who may read


async def test_metrics_are_served_to_loopback_without_a_token_outside_production(
    api: Api,
) -> None:
    assert (await api.client.get("/metrics")).status_code == 200


async def test_remote_clients_are_refused_even_with_the_token(
    settings: Settings, runtime: Runtime
) -> None:
    with_token = settings.with_overrides(metrics_token=TOKEN)
    async with client_for(with_token, runtime, host="192.0.2.7") as remote:
        response = await remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert_problem(response, 403, "auth.operator_only")


async def test_a_set_token_is_required(settings: Settings, runtime: Runtime) -> None:
    async with client_for(settings.with_overrides(metrics_token=TOKEN), runtime) as client:
        missing = await client.get("/metrics")
        assert_problem(missing, 401, "auth.metrics_token")
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
        assert_problem(wrong, 401, "auth.metrics_token")
        basic = await client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
        assert_problem(basic, 401, "auth.metrics_token")
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200
        assert "registry_database_up" in right.text
        # The scheme is case-insensitive (RFC 9110), the token is not.
        lower = await client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
        assert lower.status_code == 200
        upper = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN.upper()}"})
        assert_problem(upper, 401, "auth.metrics_token")


async def test_production_without_a_token_refuses_everybody(
    settings: Settings, runtime: Runtime
) -> None:
    production = settings.with_overrides(environment="production")
    async with client_for(production, runtime) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert_problem(response, 401, "auth.metrics_token")
        assert (await client.get("/health/live")).status_code == 200


async def test_production_with_a_token_serves_it(settings: Settings, runtime: Runtime) -> None:
    production = settings.with_overrides(environment="production", metrics_token=TOKEN)
    async with client_for(production, runtime) as client:
        assert_problem(await client.get("/metrics"), 401, "auth.metrics_token")
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
