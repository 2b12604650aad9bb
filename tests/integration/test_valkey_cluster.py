"""The registry on a Valkey Cluster (three primaries, one replica each) through a primary's death.

Replay protection and rate limits hold on the cluster; when the primary that
holds the replay store epoch is SIGKILLed, every answer until and after its
replica's promotion is 2xx or 503 (a token the guard cannot vouch for is
refused with 401 ``auth.replay_window`` and signed anew, as the SDK does), and
no token accepted at any point is accepted again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from refund_registry.storage.cache import EPOCH_KEY
from refund_registry.storage.redis_client import tag_of
from tests.support.api import Api, asgi_client, assert_problem
from tests.support.factories import pseudonym
from tests.support.principals import MakePrincipal
from tests.support.valkey_cluster import valkey_cluster

PATH = "/v1/risk/query"


def query() -> dict[str, Any]:
    return {
        "identifiers": [{"kind": "phone", "pseudonym": pseudonym()}],
        "purpose": "refund_decision",
    }


def code(response: Any) -> str | None:
    if response.status_code < 400:
        return None
    return str(msgspec.json.decode(response.content).get("code"))


async def test_replay_guard_and_rate_limits_on_a_cluster_through_a_failover(
    settings: Settings, make_principal: MakePrincipal
) -> None:
    with valkey_cluster() as cluster:
        # Rate limits: three lookups a second per organisation, counted in the cluster.
        limited = settings.with_overrides(redis_url=cluster.url, query_rate_per_second=3)
        rt = await Runtime.start(limited)
        try:
            async with asgi_client(limited, rt) as client:
                api = Api(client)
                member = await make_principal()
                answers = await asyncio.gather(
                    *(api.call(member, "POST", PATH, query()) for _ in range(10))
                )
                statuses = sorted(r.status_code for r in answers)
                assert 200 in statuses, statuses
                assert 429 in statuses, statuses
                for response in answers:
                    if response.status_code == 429:
                        assert_problem(response, 429, "rate.limited")
                # Every primary forgets the script (as a restarted or newly
                # promoted one may): it is loaded again and the count goes on.
                assert rt.redis is not None
                await rt.redis.script_flush()
                usage = await rt.registry.query_limiter.acquire("probe")
                assert usage.source == "redis"
                _, day_key = rt.registry.query_limiter.keys("probe", time.time())
                assert int(await rt.redis.get(day_key) or 0) == 1
                assert not rt.breaker.degraded
        finally:
            await rt.close()

        own = settings.with_overrides(redis_url=cluster.url, jti_fallback="database")
        rt = await Runtime.start(own)
        try:
            async with asgi_client(own, rt) as client:
                api = Api(client)
                member = await make_principal()
                accepted: list[tuple[dict[str, str], bytes]] = []

                async def ask() -> int:
                    """One lookup, signed anew while the guard asks for a fresh token."""
                    while True:
                        body = msgspec.json.encode(query())
                        headers = member.headers("POST", PATH, body)
                        response = await api.call(None, "POST", PATH, raw=body, headers=headers)
                        if response.status_code == 200:
                            accepted.append((headers, body))
                        if code(response) != "auth.replay_window":
                            return int(response.status_code)
                        await asyncio.sleep(1.05 - time.time() % 1)

                async def replays_refused() -> None:
                    for headers, body in list(accepted):
                        again = await api.call(None, "POST", PATH, raw=body, headers=headers)
                        assert again.status_code in (401, 503), (again.status_code, again.text)
                        if again.status_code == 401:
                            assert code(again) in ("auth.replayed", "auth.replay_window")

                # A token used once is refused again, on the cluster.
                assert await ask() == 200
                await replays_refused()
                assert tag_of(rt.replay.key("iss:jti")) is not None

                victim = cluster.owner_of(EPOCH_KEY)
                assert victim is not None
                statuses = []
                for _ in range(3):
                    statuses.extend(await asyncio.gather(*(ask() for _ in range(4))))
                cluster.kill(victim)
                saw_degraded = False
                promoted_at: float | None = None
                deadline = time.monotonic() + 40
                while time.monotonic() < deadline:
                    statuses.extend(await asyncio.gather(*(ask() for _ in range(4))))
                    await replays_refused()
                    saw_degraded = saw_degraded or rt.breaker.degraded
                    owner = cluster.owner_of(EPOCH_KEY)
                    if promoted_at is None and owner is not None and owner is not victim:
                        promoted_at = time.monotonic()
                    if promoted_at is not None and time.monotonic() > promoted_at + 3:
                        break
                    await asyncio.sleep(0.05)
                assert promoted_at is not None, "no replica was promoted"
                assert set(statuses) <= {200, 503}, statuses  # never a 500
                assert saw_degraded  # the kill was felt, and the fallbacks answered
                cluster.wait_healthy()
                # After the promotion: fresh tokens accepted, every used one refused.
                assert await ask() == 200
                await replays_refused()
                assert not rt.breaker.degraded
                for _ in range(40):
                    ready = (await client.get("/health/ready")).json()
                    if ready["checks"]["redis"] == "ok":
                        break
                    await asyncio.sleep(0.1)
                assert ready["checks"]["redis"] == "ok", ready
        finally:
            await rt.close()
