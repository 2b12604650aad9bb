"""The command line, run as real processes."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

CLI = [sys.executable, "-m", "refund_registry"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def _public_key_file(tmp: Path) -> Path:
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp / "member.pub.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_principals_add_list_revoke_against_given_urls(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = _env(DATABASE_URL=db_url, REDIS_URL=redis_url)
    pem = _public_key_file(tmp_path)
    added = subprocess.run(
        [
            *CLI,
            "principals",
            "add",
            "--name",
            "Shop A",
            "--role",
            "member",
            "--public-key",
            str(pem),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    doc = json.loads(added.stdout)
    assert set(doc) >= {"id", "kid"}
    assert doc["id"].startswith("mbr_")
    listed = subprocess.run(
        [*CLI, "principals", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [p["id"] for p in json.loads(listed.stdout)] == [doc["id"]]
    revoked = subprocess.run(
        [*CLI, "principals", "revoke", "--id", doc["id"]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(revoked.stdout)["status"] == "revoked"


def test_bad_settings_are_reported_one_line_each() -> None:
    result = subprocess.run(
        [*CLI, "migrate"],
        env=_env(REGISTRY_PORT="eighty", REGISTRY_CLOCK_SKEW_SECONDS="-4"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "bad setting" in line]
    assert len(lines) == 2
    assert any("REGISTRY_PORT" in line for line in lines)
    assert any("REGISTRY_CLOCK_SKEW_SECONDS" in line for line in lines)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(port: int, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def test_serve_starts_with_a_rotated_keyring() -> None:
    """After ``keys rotate-registry`` the keyring file holds several keys."""
    data = Path(tempfile.mkdtemp(prefix="rrcli-", dir="/tmp"))
    (data / "keys").mkdir()
    keyring = data / "keys" / "registry.key"
    keyring.write_text(f"{secrets.token_hex(32)}\n{secrets.token_hex(32)}\n")
    keyring.chmod(0o600)
    port = _free_port()
    serve = subprocess.Popen(
        [*CLI, "serve", "--data-dir", str(data), "--port", str(port)],
        env=_env(REGISTRY_KEYSERVICE_PORT=str(_free_port())),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _ready(port), "serve did not become ready"
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err


def test_zero_setup_serve_then_second_serve_refused_then_clean_stop() -> None:
    data = Path(tempfile.mkdtemp(prefix="rrcli-", dir="/tmp"))
    port = _free_port()
    ks_port = _free_port()
    serve = subprocess.Popen(
        [*CLI, "serve", "--data-dir", str(data), "--port", str(port)],
        env=_env(REGISTRY_KEYSERVICE_PORT=str(ks_port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _ready(port), "serve did not become ready"
        assert (data / "keys" / "log.key").exists()
        assert (data / "keys" / "registry.key").exists()
        # The key service runs as a child with its own key, reachable through the API.
        for _ in range(100):
            answer = httpx.get(f"http://127.0.0.1:{port}/v1/keyservice/public-key", timeout=2)
            if answer.status_code == 200:
                break
            time.sleep(0.1)
        assert answer.json()["suite"] == "ristretto255-SHA512"
        assert (data / "keys" / "keyservice.key").exists()
        second = subprocess.run(
            [*CLI, "serve", "--data-dir", str(data), "--port", str(_free_port())],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "already using" in second.stderr
        # A short command attaches to the same servers and leaves them running.
        migrated = subprocess.run(
            [*CLI, "migrate", "--data-dir", str(data)],
            env=_env(),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert json.loads(migrated.stdout) == {"applied": []}
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err
    assert "embedded PostgreSQL stopped" in err
    assert not (data / "postgres" / "postmaster.pid").exists()
