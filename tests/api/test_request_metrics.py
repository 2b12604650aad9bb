"""Request counts and latencies on ``/metrics``: the series names, labels and values operators use.

The counters live in the process-wide registry, so each test compares a scrape
taken after its requests with one taken before.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.principals import MakePrincipal

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
LABELS = {"method", "path", "status_code", "app_name"}


def series(text: str, prefix: str = "litestar_") -> Series:
    """``{(sample name, sorted labels): value}`` of the request series in one scrape."""
    found: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith(prefix):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def labels(method: str, path: str, status: int, **more: str) -> tuple[tuple[str, str], ...]:
    every = {"method": method, "path": path, "status_code": str(status)}
    return tuple(sorted({**every, "app_name": "refund_registry", **more}.items()))


def delta(before: Series, after: Series, name: str, method: str, path: str, status: int) -> float:
    key = (name, labels(method, path, status))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def scrape(client: httpx.AsyncClient) -> Series:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return series(response.text)


async def test_requests_are_counted_per_route_template_and_status(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    before = await scrape(api.client)
    for _ in range(3):
        assert (await api.client.get("/health/live")).status_code == 200
    missing = await api.call(member, "GET", "/v1/reports/rpt_nosuchreport")
    assert_problem(missing, 404, "report.not_found")
    assert_problem(await api.client.get("/v1/whoami"), 401, "auth.missing")
    assert_problem(await api.client.get("/v1/no-such-route/rpt_1"), 404, "route.not_found")
    after = await scrape(api.client)

    counts = "litestar_requests_total"
    assert delta(before, after, counts, "GET", "/health/live", 200) == 3
    # The route's template, never the raw path; the problem's status.
    assert delta(before, after, counts, "GET", "/v1/reports/{report_id}", 404) == 1
    assert delta(before, after, counts, "GET", "/v1/whoami", 401) == 1
    # The earlier scrape is counted too, by the time of the later one.
    assert delta(before, after, counts, "GET", "/metrics", 200) == 1
    # A path that matches no route makes no series of its own.
    paths = {dict(key)["path"] for _, key in after}
    assert not any("rpt_" in path or "no-such-route" in path for path in paths)
    # Every request counted is timed, in the same series.
    for _, key in [k for k in after if k[0] == counts]:
        count = after[("litestar_request_duration_seconds_count", key)]
        assert count == after[(counts, key)]
        assert after[("litestar_request_duration_seconds_sum", key)] > 0
    # Nothing failed on the server side.
    errors = "litestar_requests_error_total"
    assert {k: v for k, v in after.items() if k[0] == errors} == {
        k: v for k, v in before.items() if k[0] == errors
    }


async def test_series_carry_the_labels_and_buckets_operators_query(api: Api) -> None:
    assert (await api.client.get("/health/live")).status_code == 200
    after = await scrape(api.client)
    live = labels("GET", "/health/live", 200)
    assert after[("litestar_requests_total", live)] >= 1
    for name, key in after:
        assert {label for label, _ in key} - {"le"} == LABELS, (name, key)
    buckets = {dict(key)["le"] for name, key in after if name.endswith("_bucket")}
    # prometheus_client's default buckets, as the middleware used.
    assert {"0.005", "0.1", "1.0", "10.0", "+Inf"} <= buckets
    infinite = labels("GET", "/health/live", 200, le="+Inf")
    count = after[("litestar_request_duration_seconds_count", live)]
    assert after[("litestar_request_duration_seconds_bucket", infinite)] == count
    # The in-progress gauge is not served.
    assert not any(name.startswith("litestar_requests_in_progress") for name, _ in after)


async def test_answers_of_5xx_are_counted_as_errors(settings: Settings) -> None:
    rt = await Runtime.start(settings)
    try:
        await rt.pool.close()
        app = create_app(settings, runtime_override=rt)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            before = await scrape(client)
            assert (await client.get("/health/ready")).status_code == 503
            after = await scrape(client)
    finally:
        await rt.close()
    for name in ("litestar_requests_total", "litestar_requests_error_total"):
        assert delta(before, after, name, "GET", "/health/ready", 503) == 1
    assert delta(before, after, "litestar_requests_error_total", "GET", "/metrics", 200) == 0
