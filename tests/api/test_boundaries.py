"""Transport-level refusals: unknown routes, wrong methods, oversize bodies."""

from __future__ import annotations

import httpx

from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.principals import MakePrincipal


async def test_unknown_route_is_a_problem_document(api: Api) -> None:
    assert_problem(await api.client.get("/v1/nowhere"), 404, "route.not_found")


async def test_wrong_method_is_a_problem_document(api: Api) -> None:
    response = await api.client.delete("/health/live")
    assert_problem(response, 405, "route.method_not_allowed")


async def test_oversize_body_is_refused_before_authentication(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    response = await api.call(member, "GET", "/v1/whoami", raw=big)
    assert_problem(response, 413, "request.too_large")


async def test_openapi_schema_is_served(api: Api) -> None:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/health/ready" in response.json()["paths"]


async def test_metrics_are_exposed(api: Api) -> None:
    await api.client.get("/health/live")
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert "refund_registry" in response.text


async def test_metrics_are_refused_to_remote_clients(settings: Settings, runtime: Runtime) -> None:
    app = create_app(settings, runtime_override=runtime)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as remote:
        assert_problem(await remote.get("/metrics"), 403, "auth.operator_only")
        assert (await remote.get("/health/live")).status_code == 200
