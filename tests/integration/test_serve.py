"""``serve`` in zero-setup mode: its key-service child, several instances on one host."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CLI = [sys.executable, "-m", "refund_registry"]


def _env(**extra: str) -> dict[str, str]:
    # No REGISTRY_KEYSERVICE_PORT: each serve must find a port of its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_MADE: list[Path] = []


def _data_dir() -> Path:
    # Short, under /tmp: the embedded Valkey's socket path must stay under 100 bytes.
    path = Path(tempfile.mkdtemp(prefix="rrserve-", dir="/tmp"))
    _MADE.append(path)
    return path


@pytest.fixture(autouse=True)
def _remove_data_dirs() -> Iterator[None]:
    """Every test stops its servers before it ends; their folders go afterwards."""
    yield
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)


@dataclass
class Serving:
    process: subprocess.Popen[str]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _wait_ready(serving: Serving, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if serving.process.poll() is not None:
            _, err = serving.process.communicate()
            raise AssertionError(f"serve exited with {serving.process.returncode}:\n{err}")
        try:
            if httpx.get(f"{serving.url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not become ready")


@contextlib.contextmanager
def _serve(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Serving]:
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--data-dir", str(data_dir), "--port", str(port), *extra],
        env=env if env is not None else _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    serving = Serving(process, port, data_dir)
    try:
        yield serving
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _public_key(serving: Serving) -> str:
    answer = httpx.get(f"{serving.url}/v1/keyservice/public-key", timeout=5)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["public_key"])


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=env if env is not None else _env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_two_serves_on_one_host_each_have_their_own_key_service(tmp_path: Path) -> None:
    first_dir, second_dir = _data_dir(), _data_dir()
    with _serve(first_dir) as first, _serve(second_dir) as second:
        _wait_ready(first)
        _wait_ready(second)
        # Ready means the key service answers too: no waiting for it here.
        first_key, second_key = _public_key(first), _public_key(second)
        assert first_key != second_key
        assert httpx.get(f"{first.url}/health/ready", timeout=2).status_code == 200
        assert httpx.get(f"{second.url}/health/ready", timeout=2).status_code == 200

        # A command on a third folder, while these two run, says where it goes.
        third = _data_dir()
        listed = _run("principals", "list", "--data-dir", str(third))
        assert listed.returncode == 0, listed.stderr
        hint = [line for line in listed.stderr.splitlines() if "starting embedded" in line]
        assert len(hint) == 1, listed.stderr
        assert str(third) in hint[0]
        assert str(second_dir) in hint[0] or str(first_dir) in hint[0]

        # `audit verify` prints its report and nothing of the HTTP client's chatter.
        key = tmp_path / "auditor"
        assert _run("principals", "keygen", "--out", str(key)).returncode == 0
        added = _run(
            "principals",
            "add",
            "--name",
            "Auditor",
            "--role",
            "auditor",
            "--public-key",
            f"{key}.pub.pem",
            "--json",
            "--data-dir",
            str(first_dir),
        )
        assert added.returncode == 0, added.stderr
        auditor = json.loads(added.stdout)
        verified = _run(
            "audit",
            "verify",
            "--url",
            first.url,
            "--principal",
            auditor["id"],
            "--kid",
            auditor["kid"],
            "--key",
            f"{key}.pem",
        )
        assert verified.returncode in (0, 1), verified.stderr
        assert verified.stdout.startswith("Refund Registry access log"), verified.stdout
        assert "HTTP Request" not in verified.stderr + verified.stdout
        assert "httpx" not in verified.stderr
    assert first.process.returncode == 0
    assert second.process.returncode == 0


def test_serve_says_ready_only_with_its_key_service_up() -> None:
    with _serve(_data_dir()) as serving:
        _wait_ready(serving)
        assert serving.process.stdout is not None
        line = serving.process.stdout.readline()
        assert line.startswith(f"Refund Registry ready at {serving.url}"), line
        keyservice_url = line.split("key service ", 1)[1].split(",", 1)[0]
        assert httpx.get(f"{keyservice_url}/health/live", timeout=2).status_code == 200


def test_a_key_service_that_cannot_start_stops_serve_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "keyservice.key"
    broken.write_text("not a key\n")
    broken.chmod(0o600)
    port = _free_port()
    done = subprocess.run(
        [*CLI, "serve", "--data-dir", str(_data_dir()), "--port", str(port)],
        env=_env(REGISTRY_KEYSERVICE_KEY_FILE=str(broken)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "refund-registry: the key service did not start" in done.stderr
    assert "ready at" not in done.stdout


def test_a_taken_key_service_port_is_refused_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data_dir = _data_dir()
        done = _run(
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(_free_port()),
            "--keyservice-port",
            str(port),
        )
    assert done.returncode == 1
    assert f"--keyservice-port {port}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (data_dir / "postgres").exists()  # refused before any server started
