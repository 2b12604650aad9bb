"""``/health/ready`` and the key service: probed when configured, degraded when down."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from litestar import Litestar

from refund_registry.config import Settings
from refund_registry.http import keyservice_proxy
from refund_registry.http.app import create_app
from refund_registry.keyservice.app import create_keyservice_app
from refund_registry.runtime import Runtime

IN_PROCESS = "http://keyservice.invalid"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound by nobody who listens: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


async def ready_of(app: Litestar) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
        return await client.get("/health/ready")


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[list[Runtime]]:
    """Runtimes a test starts for settings of its own; closed after it."""
    runtimes: list[Runtime] = []
    yield runtimes
    for rt in runtimes:
        await rt.close()


async def api_app(settings: Settings, started: list[Runtime]) -> Litestar:
    rt = await Runtime.start(settings)
    started.append(rt)
    return create_app(settings, runtime_override=rt)


async def test_without_a_keyservice_url_it_is_not_configured_and_ok(
    settings: Settings, runtime: Runtime
) -> None:
    response = await ready_of(create_app(settings, runtime_override=runtime))
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["keyservice"] == "not configured"
    assert body["status"] == "ok", body


async def test_a_keyservice_that_refuses_connections_degrades_readiness(
    settings: Settings, closed_port: int, started: list[Runtime]
) -> None:
    unreachable = settings.with_overrides(keyservice_url=f"http://127.0.0.1:{closed_port}")
    app = await api_app(unreachable, started)
    try:
        response = await ready_of(app)
    finally:
        await keyservice_proxy.close(app)
    assert response.status_code == 200  # risk queries still answer
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["keyservice"] == "degraded: ConnectError"
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"] == "ok"


async def test_a_live_keyservice_is_ok(settings: Settings, started: list[Runtime]) -> None:
    configured = settings.with_overrides(keyservice_url=IN_PROCESS)
    app = await api_app(configured, started)
    keyservice = create_keyservice_app(configured, runtime_override=started[0])
    relay = httpx.AsyncClient(transport=httpx.ASGITransport(app=keyservice), base_url=IN_PROCESS)
    setattr(app.state, keyservice_proxy.STATE_KEY, relay)
    try:
        response = await ready_of(app)
    finally:
        await keyservice_proxy.close(app)
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok", "keyservice": "ok"}}


async def test_the_keyservice_does_not_probe_itself(settings: Settings, runtime: Runtime) -> None:
    configured = settings.with_overrides(keyservice_url=IN_PROCESS)
    response = await ready_of(create_keyservice_app(configured, runtime_override=runtime))
    assert response.status_code == 200
    body = response.json()
    assert body == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}
