"""Valkey killed during a run of risk queries: answers stay correct, nothing 5xx.

Tokens Redis may have seen before it went away are refused with 401
``auth.replay_window`` and signed anew, as the SDK does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from pathlib import Path

import msgspec

from refund_registry.cli.embedded import EmbeddedServers
from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from tests.support.api import Api, asgi_client
from tests.support.factories import pseudonym, report_body
from tests.support.principals import MakePrincipal


async def test_valkey_killed_mid_run_then_restarted(
    settings: Settings, make_principal: MakePrincipal
) -> None:
    own = EmbeddedServers(Path(tempfile.mkdtemp(prefix="rrv-", dir="/tmp")), postgres=False)
    endpoints = own.attach()
    own_settings = settings.with_overrides(redis_url=endpoints.redis_url)
    rt = await Runtime.start(own_settings)
    try:
        async with asgi_client(own_settings, rt) as client:
            api = Api(client)
            reporters = [await make_principal() for _ in range(3)]
            asker = await make_principal()
            buyers = [pseudonym() for _ in range(6)]
            for i, buyer in enumerate(buyers):  # buyer i has i reports from up to 3 platforms
                for j in range(i):
                    body = report_body(identifiers=[{"kind": "phone", "pseudonym": buyer}])
                    assert (
                        await api.call(reporters[j % 3], "POST", "/v1/reports", body)
                    ).status_code == 201

            async def ask(buyer: str) -> tuple[int, int]:
                body = {
                    "identifiers": [{"kind": "phone", "pseudonym": buyer}],
                    "purpose": "refund_decision",
                }
                while True:
                    response = await api.call(asker, "POST", "/v1/risk/query", body)
                    answer = msgspec.json.decode(response.content)
                    # A token signed before Redis went away (or came back empty) is
                    # refused, not answered: the client signs a fresh one, as the SDK does.
                    if answer.get("code") != "auth.replay_window":
                        return response.status_code, answer.get("score", -1)
                    await asyncio.sleep(1.05 - time.time() % 1)

            expected = [(200, (await ask(b))[1]) for b in buyers]
            assert [s for _, s in expected] == sorted(
                s for _, s in expected
            )  # more reports, higher

            async def load(rounds: int) -> list[tuple[int, int]]:
                results = []
                for _ in range(rounds):
                    results.extend(await asyncio.gather(*(ask(b) for b in buyers)))
                return results

            running = asyncio.create_task(load(15))
            await asyncio.sleep(0.05)
            pid = int((own.valkey_dir / "valkey.pid").read_text())
            os.kill(pid, signal.SIGKILL)
            results = await running
            assert results == expected * 15  # every answer correct, none 5xx
            ready = await client.get("/health/ready")
            assert ready.json()["status"] == "degraded"

            own.attach()  # starts a new Valkey on the same socket
            for _ in range(100):
                await asyncio.sleep(0.05)
                ready = await client.get("/health/ready")
                if ready.json()["status"] == "ok":
                    break
            assert ready.json()["status"] == "ok", (
                ready.json(),
                (own.valkey_dir / "valkey.log").read_text()[-800:],
            )
            assert await load(2) == expected * 2
            assert not rt.breaker.degraded
    finally:
        await rt.close()
        own.release()
        own.release()
