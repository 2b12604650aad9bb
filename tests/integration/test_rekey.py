"""Rotating the registry key re-wraps every subject key and loses no record."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import asyncpg

from refund_registry.runtime import Runtime
from tests.support.api import Api, asgi_client
from tests.support.factories import pseudonym, report_body
from tests.support.principals import MakePrincipal

TABLES = ("subject_aggregates", "access_subjects", "reports", "events")


async def _counts(db_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(db_url)
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
    finally:
        await conn.close()


async def test_rotation_keeps_every_record_reachable(
    api: Api, make_principal: MakePrincipal, runtime: Runtime, db_url: str, redis_url: str
) -> None:
    a, b, asker = await make_principal(), await make_principal(), await make_principal()
    buyer = pseudonym()
    ident = [{"kind": "phone", "pseudonym": buyer}]
    for member in (a, b):
        assert (
            await api.call(member, "POST", "/v1/reports", report_body(identifiers=ident))
        ).status_code == 201
    query = {"identifiers": ident, "purpose": "refund_decision"}
    before = (await api.call(asker, "POST", "/v1/risk/query", query)).json()
    await runtime.access_log.close()
    old_key = runtime.parts.keyring.subject_key(bytes(64))
    counts_before = await _counts(db_url)

    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        DATABASE_URL=db_url, REDIS_URL=redis_url, REGISTRY_DATA_DIR=str(runtime.settings.data_dir)
    )
    done = subprocess.run(
        [sys.executable, "-m", "refund_registry", "keys", "rotate-registry"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout)
    assert result["key_version"] == 2
    assert result["reports"] == 2
    assert await _counts(db_url) == counts_before  # nothing lost, nothing added
    keyring_file = runtime.settings.key_path("registry")
    assert len(keyring_file.read_text().split()) == 2
    assert not keyring_file.with_name(keyring_file.name + ".next").exists()

    # A process started after the rotation (new keyring) finds the same record.
    rotated = await Runtime.start(runtime.settings)
    try:
        assert rotated.parts.keyring.subject_key(bytes(64)) != old_key
        async with asgi_client(runtime.settings, rotated) as client:
            after = (await Api(client).call(asker, "POST", "/v1/risk/query", query)).json()
    finally:
        await rotated.close()
    assert after["score"] == before["score"] > 0
    assert after["counts"] == before["counts"]
    versions = {r["key_version"] for r in await rotated_versions(db_url)}
    assert versions == {2}


async def rotated_versions(db_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetch("SELECT key_version FROM reports")
    finally:
        await conn.close()
