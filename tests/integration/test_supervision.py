"""What zero-setup ``serve`` keeps running, and how it runs several workers.

* Valkey SIGKILLed: the supervisor restarts it, and a token used before is
  refused during the outage and after the restart (the new store's epoch is
  set before any client reaches it); its folder is private and keeps nothing.
* ``serve --workers 2``: the key-service child SIGKILLed is restarted and
  ``/health/ready`` is not ``ok`` meanwhile; a worker SIGKILLed is replaced
  while the other answers; SIGTERM stops everything cleanly.
* ``serve`` refuses workers whose pools could exceed ``max_connections``.
* ``X-Forwarded-For`` is believed only from the proxies listed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from refund_registry.cli.embedded import EmbeddedServers
from refund_registry.cli.serving import ServerLimits, server_config
from refund_registry.cli.supervisor import Part, Supervisor
from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import asgi_client
from tests.support.faults import children_of, kill_pid, wait_for
from tests.support.principals import MakePrincipal
from tests.support.tokens import WHOAMI, token

CLI = [sys.executable, "-m", "refund_registry"]


async def test_valkey_killed_then_restarted_never_takes_a_used_token_again(
    settings: Settings, make_principal: MakePrincipal
) -> None:
    root = Path(tempfile.mkdtemp(prefix="rrv-", dir="/tmp"))
    own = EmbeddedServers(root, postgres=False)
    endpoints = own.attach()
    own_settings = settings.with_overrides(redis_url=endpoints.redis_url)
    parts = [Part("embedded Valkey", own.valkey_alive, own.restart_valkey)]
    rt = await Runtime.start(own_settings)
    try:
        with Supervisor(parts, interval=0.1):
            async with asgi_client(own_settings, rt) as client:
                member = await make_principal()
                replayed_during = {"Authorization": f"Bearer {token(member)}"}
                replayed_after = {"Authorization": f"Bearer {token(member)}"}
                for used in (replayed_during, replayed_after):
                    assert (await client.get(WHOAMI, headers=used)).status_code == 200

                os.kill(int((own.valkey_dir / "valkey.pid").read_text()), signal.SIGKILL)
                during = await client.get(WHOAMI, headers=replayed_during)
                assert during.status_code == 401, during.text  # the fallback: not again

                async def restarted() -> bool:
                    ready = await client.get("/health/ready")
                    return bool(ready.json()["checks"]["redis"] == "ok")

                deadline = time.monotonic() + 20
                while not await restarted():
                    assert time.monotonic() < deadline, "Valkey was not restarted"
                    await asyncio.sleep(0.1)
                # The new, empty store: its epoch refuses what the old one took.
                after = await client.get(WHOAMI, headers=replayed_after)
                assert after.status_code == 401, after.text
                assert after.json()["code"] == "auth.replay_window"
                fresh = {"Authorization": f"Bearer {token(member)}"}
                assert (await client.get(WHOAMI, headers=fresh)).status_code == 200

        # Private, and nothing kept on disk.
        assert stat.S_IMODE(own.valkey_dir.stat().st_mode) == 0o700
        files = [p for p in own.valkey_dir.iterdir() if p.is_file()]
        assert files
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {
            p.name: 0o600 for p in files
        }
        client_ = redis.Redis.from_url(endpoints.redis_url)
        try:
            assert client_.config_get("save") == {"save": ""}
            assert client_.config_get("appendonly") == {"appendonly": "no"}
        finally:
            client_.close()
    finally:
        await rt.close()
        own.release()
        shutil.rmtree(root, ignore_errors=True)


async def test_forwarded_headers_are_believed_only_from_listed_proxies(runtime: Runtime) -> None:
    app = create_app(runtime.settings, runtime_override=runtime)

    async def metrics_status(trusted: tuple[str, ...]) -> int:
        config = server_config(app, "127.0.0.1", 0, ServerLimits(forwarded_allow_ips=trusted))
        config.load()
        transport = httpx.ASGITransport(app=config.loaded_app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            forged = {"X-Forwarded-For": "203.0.113.9"}
            return (await client.get("/metrics", headers=forged)).status_code

    # By default no proxy is trusted: the loopback client stays what it is.
    assert await metrics_status(()) == 200
    # A listed proxy's header names the client, who is no operator.
    assert await metrics_status(("127.0.0.1",)) == 403


# -- serve, as a process --------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rrsv-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _ready(url: str) -> dict[str, object] | None:
    try:
        answer = httpx.get(f"{url}/health/ready", timeout=2)
    except httpx.HTTPError:
        return None
    body: dict[str, object] = answer.json()
    return body


def test_serve_restarts_its_key_service_and_replaces_a_dead_worker(data_dir: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*CLI, "serve", "--data-dir", str(data_dir), "--port", str(port), "--workers", "2"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"Refund Registry ready at {url}"), line
        assert "2 workers" in line
        assert (_ready(url) or {}).get("status") == "ok"

        keyservice = children_of(process.pid, "keyservice")
        assert len(keyservice) == 1
        kill_pid(keyservice.pop())
        wait_for(lambda: (_ready(url) or {}).get("status") == "degraded", 10, "not ok")
        checks = (_ready(url) or {}).get("checks")
        assert isinstance(checks, dict)
        assert str(checks["keyservice"]).startswith("degraded")
        wait_for(lambda: (_ready(url) or {}).get("status") == "ok", 60, "key service back")
        assert len(children_of(process.pid, "keyservice")) == 1

        workers = children_of(process.pid, "spawn_main")
        assert len(workers) == 2
        victim = sorted(workers)[0]
        kill_pid(victim)
        # The other worker answers meanwhile; the dead one is replaced.
        assert httpx.get(f"{url}/health/live", timeout=5).status_code == 200
        wait_for(
            lambda: len(children_of(process.pid, "spawn_main") - {victim}) == 2,
            60,
            "a replacement worker",
        )
        wait_for(lambda: (_ready(url) or {}).get("status") == "ok", 60, "ready again")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    assert "key service died; restarting it" in err
    assert "key service restarted" in err
    assert "worker process died; starting another" in err


def test_serve_refuses_workers_whose_pools_exceed_max_connections(data_dir: Path) -> None:
    done = subprocess.run(
        [*CLI, "serve", "--data-dir", str(data_dir), "--port", str(_free_port()), "--workers=40"],
        env=_env(REGISTRY_DB_POOL_MAX="10"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "refusing to start: 40 workers x 11 connections each" in done.stderr
    assert "max_connections 300" in done.stderr
    assert "Traceback" not in done.stderr
    assert "ready at" not in done.stdout
