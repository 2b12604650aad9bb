"""``refund-registry console``: one-time sign-in links and identity-provider mappings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import staff_access as rules

CLI = [sys.executable, "-m", "refund_registry"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


def _add_principal(env: dict[str, str], tmp: Path, role: str) -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    pem = tmp / f"{role}.pub.pem"
    pem.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    added = _run(
        env, "principals", "add", "--name", "Judge Li", "--role", role, "--public-key", str(pem),
        "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    principal_id: str = json.loads(added.stdout)["id"]
    return principal_id


def test_link_prints_a_one_time_url_and_stores_only_its_hash(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    import asyncio

    import asyncpg

    env = _env(
        DATABASE_URL=db_url, REDIS_URL=redis_url, REGISTRY_PUBLIC_URL="https://registry.example"
    )
    principal_id = _add_principal(env, tmp_path, "adjudicator")
    printed = _run(env, "console", "link", "--principal", principal_id, "--json")
    assert printed.returncode == 0, printed.stderr
    answer = json.loads(printed.stdout)
    url = urlsplit(answer["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "registry.example", "/console/signin")
    token = parse_qs(url.query)["token"][0]
    assert answer["principal"] == principal_id
    assert answer["role"] == "adjudicator"

    async def stored() -> list[bytes]:
        conn = await asyncpg.connect(db_url)
        try:
            return [r["digest"] for r in await conn.fetch("SELECT digest FROM staff_links")]
        finally:
            await conn.close()

    assert asyncio.run(stored()) == [rules.link_digest(token)]


def test_link_refuses_unknown_and_unfit_principals(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = _env(DATABASE_URL=db_url, REDIS_URL=redis_url)
    unknown = _run(env, "console", "link", "--principal", "adj_nobody")
    assert unknown.returncode == 1
    assert "principal.not_found" in unknown.stderr
    admin = _add_principal(env, tmp_path, "admin")
    refused = _run(env, "console", "link", "--principal", admin)
    assert refused.returncode == 1
    assert "console.principal_inactive" in refused.stderr


def test_map_oidc_then_unmap(db_url: str, redis_url: str, tmp_path: Path) -> None:
    env = _env(DATABASE_URL=db_url, REDIS_URL=redis_url)
    member = _add_principal(env, tmp_path, "member")
    issuer = "https://idp.example"
    mapped = _run(
        env, "console", "map-oidc", "--issuer", issuer, "--subject", "u-42",
        "--principal", member,
    )  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr
    assert f"principal_id: {member}" in mapped.stdout
    unmapped = _run(env, "console", "unmap-oidc", "--issuer", issuer, "--subject", "u-42")
    assert unmapped.returncode == 0, unmapped.stderr
    again = _run(env, "console", "unmap-oidc", "--issuer", issuer, "--subject", "u-42")
    assert again.returncode == 1
    assert "console.oidc_no_mapping" in again.stderr
