"""The command line, run as real processes."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

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
            "--json",
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
        [*CLI, "principals", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [p["id"] for p in json.loads(listed.stdout)] == [doc["id"]]
    revoked = subprocess.run(
        [*CLI, "principals", "revoke", "--id", doc["id"], "--json"],
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


# -- a command line that explains itself -------------------------------------------


def _run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [*CLI, *args],
        env=env if env is not None else _env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_clean_line(stderr: str) -> str:
    """The error the user sees: one ``refund-registry: …`` line, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("refund-registry")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_version_prints_the_package_version() -> None:
    done = _run("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"refund-registry {metadata.version('refund-registry')}"


def test_keygen_writes_a_private_key_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    done = _run("principals", "keygen", "--out", str(tmp_path / "shop"), "--json")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    private, public = tmp_path / "shop.pem", tmp_path / "shop.pub.pem"
    assert made["private_key"] == str(private)
    assert made["public_key"] == str(public)
    assert made["alg"] == "EdDSA"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    assert (
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public.read_bytes()
    )
    before = private.read_bytes()
    again = _run("principals", "keygen", "--out", str(tmp_path / "shop"))
    assert again.returncode == 2
    assert "not overwriting" in _one_clean_line(again.stderr)
    assert private.read_bytes() == before
    p256 = _run("principals", "keygen", "--out", str(tmp_path / "desk"), "--alg", "ES256")
    assert p256.returncode == 0, p256.stderr
    assert "alg:" in p256.stdout
    assert "ES256" in p256.stdout
    loaded = serialization.load_pem_private_key((tmp_path / "desk.pem").read_bytes(), None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)


def test_bad_key_files_are_one_line_usage_errors(tmp_path: Path) -> None:
    keys = _run("principals", "keygen", "--out", str(tmp_path / "shop"))
    assert keys.returncode == 0, keys.stderr
    (tmp_path / "junk.pem").write_text("hello\n")
    cases = {
        str(tmp_path / "missing.pem"): "no such file",
        str(tmp_path / "shop.pem"): "PRIVATE key",
        str(tmp_path / "junk.pem"): "not a PEM file",
        str(tmp_path): "is a folder",
    }
    for path, says in cases.items():
        # No server is started for a file that cannot be right.
        done = _run(
            "principals",
            "add",
            "--name",
            "A",
            "--role",
            "member",
            "--public-key",
            path,
            env=_env(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"),
        )
        assert done.returncode == 2, (path, done.stderr)
        line = _one_clean_line(done.stderr)
        assert says in line, line
        assert path in line, line


def test_a_duplicate_key_names_the_principal_that_holds_it(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = _env(DATABASE_URL=db_url, REDIS_URL=redis_url)
    pem = _public_key_file(tmp_path)
    first = _run(
        "principals",
        "add",
        "--name",
        "Shop A",
        "--role",
        "member",
        "--public-key",
        str(pem),
        env=env,
    )
    assert first.returncode == 0, first.stderr
    fields = dict(line.split(":", 1) for line in first.stdout.splitlines())
    holder = fields["id"].strip()
    assert holder.startswith("mbr_")
    assert fields["name"].strip() == "Shop A"
    second = _run(
        "principals",
        "add",
        "--name",
        "Shop B",
        "--role",
        "member",
        "--public-key",
        str(pem),
        env=env,
    )
    assert second.returncode == 1
    line = _one_clean_line(second.stderr)
    assert holder in line
    assert "Shop A" in line
    assert "already registered" in line
    rotation = _run("principals", "add-key", "--id", holder, "--public-key", str(pem), env=env)
    assert rotation.returncode == 1
    assert holder in _one_clean_line(rotation.stderr)


def test_list_is_a_table_and_show_lists_every_key(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = _env(DATABASE_URL=db_url, REDIS_URL=redis_url)
    empty = _run("principals", "list", env=env)
    assert empty.returncode == 0
    assert empty.stdout.startswith("no principals")
    ids = []
    for name in ("Shop A", "A longer shop name"):
        key = tmp_path / name.replace(" ", "_")
        assert _run("principals", "keygen", "--out", str(key)).returncode == 0
        added = _run(
            "principals",
            "add",
            "--name",
            name,
            "--role",
            "member",
            "--public-key",
            f"{key}.pub.pem",
            "--json",
            env=env,
        )
        ids.append(json.loads(added.stdout)["id"])
    listed = _run("principals", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:4] == ["ID", "NAME", "ROLE", "STATUS"]
    assert [row.split()[0] for row in rows] == ids
    # Aligned: every row's ROLE column starts where the header's does.
    at = header.index("ROLE")
    assert all(row[at:].startswith("member") for row in rows)
    assert listed.stdout.endswith("\n")
    new_key = tmp_path / "rotated"
    assert _run("principals", "keygen", "--out", str(new_key)).returncode == 0
    rotated = _run(
        "principals",
        "add-key",
        "--id",
        ids[0],
        "--public-key",
        f"{new_key}.pub.pem",
        "--json",
        env=env,
    )
    old_kid = json.loads(_run("principals", "show", ids[0], "--json", env=env).stdout)["keys"][0]
    # "--kid=…": a key id is base64url and may begin with "-", which a separate argument
    # would turn into an option.
    assert _run("principals", "revoke", f"--kid={old_kid['kid']}", env=env).returncode == 0
    shown = _run("principals", "show", ids[0], env=env)
    assert shown.returncode == 0, shown.stderr
    assert "id:" in shown.stdout
    assert ids[0] in shown.stdout
    assert json.loads(rotated.stdout)["kid"] in shown.stdout
    doc = json.loads(_run("principals", "show", ids[0], "--json", env=env).stdout)
    assert [k["revoked_at"] is None for k in doc["keys"]] == [False, True]
    missing = _run("principals", "show", "mbr_nobody", env=env)
    assert missing.returncode == 1
    assert "principal.not_found" in _one_clean_line(missing.stderr)


def test_unreachable_database_is_one_line_without_the_password() -> None:
    done = _run(
        "principals",
        "list",
        env=_env(DATABASE_URL="postgresql://u:hunter2@127.0.0.1:1/db", REDIS_URL="redis://x:1"),
    )
    assert done.returncode == 1
    line = _one_clean_line(done.stderr)
    assert "cannot reach PostgreSQL" in line
    assert "hunter2" not in line


def test_a_future_as_of_needs_drill(db_url: str, redis_url: str, tmp_path: Path) -> None:
    # The worker's generated keys go to a folder of this test's own.
    env = _env(DATABASE_URL=db_url, REDIS_URL=redis_url, REGISTRY_DATA_DIR=str(tmp_path))
    refused = _run("worker", "--once", "--as-of", "2999-01-01T00:00:00Z", env=env)
    assert refused.returncode == 2
    assert "--drill" in _one_clean_line(refused.stderr)
    drill = _run("worker", "--once", "--as-of", "2999-01-01T00:00:00Z", "--drill", env=env)
    assert drill.returncode == 0, drill.stderr
    assert "drill as of 2999-01-01" in drill.stderr
    assert "none of this can be undone" in drill.stderr
    assert json.loads(drill.stdout)["as_of"].startswith("2999-01-01")
    past = _run("worker", "--once", "--as-of", "2020-01-01T00:00:00Z", env=env)
    assert past.returncode == 0, past.stderr
    assert "drill" not in past.stderr
