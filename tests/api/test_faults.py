"""Redis unreachable: signed requests keep working under the in-process policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from tests.support.api import asgi_client, assert_problem, serving
from tests.support.principals import MakePrincipal
from tests.support.tokens import token


@pytest.fixture
def dead_redis_settings(settings: Settings, tmp_path: Path) -> Settings:
    # A unix socket nobody listens on: every Redis call fails at once.
    return settings.with_overrides(redis_url=f"unix://{tmp_path}/nobody-home.sock")


@pytest.fixture
async def dead_redis_client(dead_redis_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(dead_redis_settings) as client:
        yield client


async def test_ready_reports_redis_degraded_but_serving(
    dead_redis_client: httpx.AsyncClient,
) -> None:
    response = await dead_redis_client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["postgres"] == "ok"
    assert body["checks"]["redis"].startswith("degraded")


async def test_replay_is_still_refused_in_process_without_redis(
    dead_redis_client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    once = token(member)
    headers = {"Authorization": f"Bearer {once}"}
    first = await dead_redis_client.get("/v1/whoami", headers=headers)
    assert first.status_code == 200, first.text
    assert_problem(await dead_redis_client.get("/v1/whoami", headers=headers), 401, "auth.replayed")


async def test_refuse_policy_answers_503_without_redis(
    dead_redis_settings: Settings, make_principal: MakePrincipal
) -> None:
    strict = dead_redis_settings.with_overrides(jti_fallback="refuse")
    async with serving(strict) as client:
        member = await make_principal()
        response = await client.get(
            "/v1/whoami", headers={"Authorization": f"Bearer {token(member)}"}
        )
        doc = assert_problem(response, 503, "auth.replay_guard_unavailable")
        assert response.headers["retry-after"]
        assert doc["status"] == 503


async def test_postgres_down_is_503_on_ready(settings: Settings) -> None:
    rt = await Runtime.start(settings)
    async with asgi_client(settings, rt) as client:
        await rt.pool.close()
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["checks"]["postgres"].startswith("down")
    await rt.close()
