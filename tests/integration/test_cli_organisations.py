"""`principals add --org`, `principals quota` and `principals orgs`, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain.quotas import EVALUATION_CEILING

CLI = [sys.executable, "-m", "refund_registry", "principals"]


def _env(db_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(DATABASE_URL=db_url, REDIS_URL=redis_url)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _public_key(path: Path) -> str:
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return str(path)


def test_organisations_from_the_command_line(db_url: str, redis_url: str, tmp_path: Path) -> None:
    env = _env(db_url, redis_url)

    def add(name: str, *org: str) -> Any:
        key = _public_key(tmp_path / f"{name}.pub.pem")
        args = ["add", "--name", name, "--role", "member", *org, "--public-key", key, "--json"]
        return _json(_run(env, *args))

    added = [add(f"Desk {i}", "--org", "acme-shop") for i in range(2)]
    assert [a["org"] for a in added] == ["acme-shop", "acme-shop"]
    alone = add("Solo")
    assert alone["org"] == alone["id"]

    above = str(EVALUATION_CEILING + 1)
    refused = _run(env, "quota", "--org", "acme-shop", "--evaluations-per-day", above)
    assert refused.returncode != 0
    assert "above the ceiling" in refused.stderr
    assert "--above-ceiling" in refused.stderr
    overriding = ["--org", "acme-shop", "--evaluations-per-day", above, "--above-ceiling"]
    done = _run(env, "quota", *overriding, "--json")
    assert _json(done)["above_ceiling"] is True
    assert "organisation quota above the ceiling" in done.stderr  # the warning is logged

    orgs = {o["org"]: o for o in _json(_run(env, "orgs", "--json"))}
    assert orgs["acme-shop"]["principals"] == 2
    assert orgs["acme-shop"]["evaluations_per_day"] == EVALUATION_CEILING + 1
    assert orgs[alone["id"]]["principals"] == 1
    assert _run(env, "quota", "--org", "nobody-here", "--queries-per-day", "5").returncode != 0
