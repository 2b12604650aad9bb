"""The ledger against the real database: concurrency, bulk, expiry, crash safety."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

from refund_registry.client.signing import Signer
from refund_registry.http.reports import ReportIn, to_domain
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.factories import pseudonym, report_body
from tests.support.principals import MakePrincipal
from tests.support.waiting import free_port


def domain_report(**overrides: Any) -> Any:
    return to_domain(msgspec.convert(report_body(**overrides), ReportIn, strict=False))


async def test_a_thousand_concurrent_reports_about_one_buyer(
    runtime: Runtime, make_principal: MakePrincipal
) -> None:
    members = [await make_principal() for _ in range(5)]
    buyer = [{"kind": "phone", "pseudonym": pseudonym()}]
    reports = [(members[i % 5], domain_report(identifiers=buyer)) for i in range(1000)]
    results = await asyncio.gather(*(runtime.ledger.file(m.principal_id, r) for m, r in reports))
    assert all(created for created, _ in results)
    row = await runtime.pool.fetchrow("SELECT * FROM subject_aggregates")
    assert row["active_reports"] == 1000
    assert row["platforms"] == 5
    assert len(row["facts"]) == 1000
    assert Counter(f["m"] for f in row["facts"]) == {m.principal_id: 200 for m in members}
    key = row["subject_key"]
    assert (
        await runtime.pool.fetchval(
            "SELECT count(*) FROM reports WHERE subject_keys && ARRAY[$1::bytea]", key
        )
        == 1000
    )


async def test_bulk_upload_all_or_nothing_and_idempotent(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    bodies = [report_body() for _ in range(50)]
    bad = [dict(b) for b in bodies]
    bad[7] = dict(bad[7], category="nope")
    bad[31] = dict(bad[31], evidence_kinds=["ai_detector"])
    refused = await api.call(member, "POST", "/v1/reports/bulk", {"reports": bad})
    doc = assert_problem(refused, 422, "bulk.invalid_items")
    assert [item["index"] for item in doc["invalid_items"]] == [7, 31]
    assert doc["invalid_items"][1]["violations"][0]["code"] == "report.evidence_insufficient"
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 0

    # Three of them were already filed singly: counted, not duplicated.
    for body in bodies[:3]:
        assert (await api.call(member, "POST", "/v1/reports", body)).status_code == 201
    done = await api.call(member, "POST", "/v1/reports/bulk", {"reports": bodies})
    assert done.status_code == 201, done.text
    answer = done.json()
    assert answer["created"] == 47
    assert answer["already_filed"] == 3
    assert len(set(answer["report_ids"])) == 50
    again = (await api.call(member, "POST", "/v1/reports/bulk", {"reports": bodies})).json()
    assert again == {"report_ids": answer["report_ids"], "created": 0, "already_filed": 50}
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 50
    assert await runtime.pool.fetchval("SELECT count(*) FROM events") == 50
    assert await runtime.pool.fetchval("SELECT count(*) FROM subject_aggregates") == 50


async def test_bulk_refusals(api: Api, make_principal: MakePrincipal, runtime: Runtime) -> None:
    member = await make_principal()
    assert_problem(
        await api.call(member, "POST", "/v1/reports/bulk", {"reports": []}), 422, "bulk.size"
    )
    one = report_body()
    too_many = {"reports": [one] * 10_001}
    assert_problem(await api.call(member, "POST", "/v1/reports/bulk", too_many), 422, "bulk.size")
    dup = {"reports": [one, dict(one)]}
    doc = assert_problem(
        await api.call(member, "POST", "/v1/reports/bulk", dup), 422, "bulk.invalid_items"
    )
    assert doc["invalid_items"][0]["index"] == 1
    huge = b'{"reports": [' + b" " * (20 * 1024 * 1024) + b"]}"
    assert_problem(
        await api.call(member, "POST", "/v1/reports/bulk", raw=huge), 413, "request.too_large"
    )
    assert_problem(
        await api.call(member, "POST", "/v1/reports/bulk", raw=b'{"reports": {}}'),
        400,
        "request.invalid_body",
    )
    conflicting = dict(one, amount={"minor_units": 5, "currency": "CNY"})
    assert (await api.call(member, "POST", "/v1/reports", one)).status_code == 201
    assert_problem(
        await api.call(
            member, "POST", "/v1/reports/bulk", {"reports": [report_body(), conflicting]}
        ),
        409,
        "report.case_reference_conflict",
    )
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 1


def _env(db_url: str, redis_url: str, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(
        DATABASE_URL=db_url,
        REDIS_URL=redis_url,
        REGISTRY_DATA_DIR=str(data),
        REGISTRY_KEYSERVICE_URL="http://127.0.0.1:9",  # no key-service child here
    )
    return env


async def test_expiry_by_worker_once_as_of(
    api: Api,
    make_principal: MakePrincipal,
    runtime: Runtime,
    db_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    member = await make_principal()
    keep = report_body()
    body = report_body(amount={"minor_units": 100, "currency": "CNY"})  # small: 2 years
    report_id = (await api.call(member, "POST", "/v1/reports", body)).json()["report_id"]
    await api.call(member, "POST", "/v1/reports", keep)
    as_of = (datetime.now(UTC) + timedelta(days=2 * 366 + 10)).isoformat()
    # The worker runs as its own process with the registry key of this runtime's data folder.
    result = subprocess.run(
        [sys.executable, "-m", "refund_registry", "worker", "--once", "--as-of", as_of, "--drill"],
        env=_env(db_url, redis_url, runtime.settings.data_dir),
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout)["expired"] == 1
    row = await runtime.pool.fetchrow(
        "SELECT status, subject_keys FROM reports WHERE id = $1", report_id
    )
    assert row["status"] == "expired"
    assert row["subject_keys"] == []
    # Only the 3-year report is left counting, on its own subject.
    aggregates = await runtime.pool.fetch("SELECT active_reports FROM subject_aggregates")
    assert [a["active_reports"] for a in aggregates] == [1]
    types = [r["type"] for r in await runtime.pool.fetch(
        "SELECT type FROM events WHERE report_id = $1 ORDER BY id", report_id
    )]  # fmt: skip
    assert types == ["report.filed", "report.expired"]
    # A second pass finds nothing more to do.
    assert await runtime.ledger.expire(datetime.fromisoformat(as_of)) == 0


async def test_bulk_upload_killed_mid_flight_leaves_nothing_then_lands_once(
    make_principal: MakePrincipal, runtime: Runtime, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    member: Signer = await make_principal()
    bodies = [report_body() for _ in range(2000)]
    # Hold one of the case references in an open transaction: the upload then
    # blocks inside its own transaction, in the COPY into reports, where the
    # server is killed.
    blocker = await asyncpg.connect(db_url)
    blocker_watch = await asyncpg.connect(db_url)  # superuser: sees other sessions' queries
    tx = blocker.transaction()
    await tx.start()
    await blocker.execute(
        "INSERT INTO reports (id, member_id, case_reference, request_hash, category, amount_minor,"
        " currency, order_date, refund_date, confirmed_at, buyer_notified_at, filed_at,"
        " evidence_kinds, evidence_digest, identifier_kinds, subject_keys, key_version,"
        " status_changed_at, expires_at) VALUES ('rpt_blocker', $1, $2, '\\x00', 'other', 1,"
        " 'CNY', now(), now(), now(), now(), now(), '{}', $3, '{}', '{}', 1, now(), now())",
        member.principal_id, bodies[-1]["case_reference"], b"\0" * 32,
    )  # fmt: skip
    port = free_port()
    env = _env(db_url, redis_url, runtime.settings.data_dir)
    server = subprocess.Popen(
        [sys.executable, "-m", "refund_registry", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "serve.log").open("w"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    # `serve --port` makes this address its public URL, hence its token audience.
    member = dataclasses.replace(member, audience=base)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError((tmp_path / "serve.log").read_text())
            raw = msgspec.json.encode({"reports": bodies})
            upload = asyncio.create_task(
                http.post("/v1/reports/bulk", content=raw, headers=member.headers(
                    "POST", "/v1/reports/bulk", raw))
            )  # fmt: skip
            for _ in range(400):
                waiting = await blocker_watch.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE 'COPY %reports%'"
                )
                if waiting:
                    break
                await asyncio.sleep(0.05)
            assert waiting, "the upload never reached its merge"
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            with contextlib.suppress(httpx.HTTPError):
                await upload
    finally:
        if server.poll() is None:
            server.kill()
    await tx.rollback()
    await blocker.close()
    # The orphaned backend notices its client is gone once the lock is released.
    for _ in range(100):
        busy = await blocker_watch.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %reports%'"
            " AND state <> 'idle' AND pid <> pg_backend_pid()"
        )
        if not busy:
            break
        await asyncio.sleep(0.05)
    await blocker_watch.close()
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 0
    assert await runtime.pool.fetchval("SELECT count(*) FROM subject_aggregates") == 0
    assert await runtime.pool.fetchval("SELECT count(*) FROM access_log") == 0
    assert await runtime.pool.fetchval("SELECT count(*) FROM events") == 0

    answer = await runtime.ledger.file_bulk(
        member.principal_id,
        [to_domain(msgspec.convert(b, ReportIn, strict=False)) for b in bodies],
    )
    assert answer["created"] == 2000
    again = await runtime.ledger.file_bulk(
        member.principal_id,
        [to_domain(msgspec.convert(b, ReportIn, strict=False)) for b in bodies],
    )
    assert again["already_filed"] == 2000
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 2000


async def _wait_for_lock_wait(watch: asyncpg.Connection, query: str) -> None:
    """Until a session running a statement LIKE ``query`` waits on a lock (8 s at most)."""
    for _ in range(400):
        if await watch.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE $1",
            query,
        ):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no session waited on a lock in {query!r}")


async def _assert_aggregates_follow_reports(runtime: Runtime) -> None:
    """Every maintained aggregate equals the one recomputed from the reports."""
    from refund_registry.storage.queries import Q

    oracle = {
        bytes(r["subject_key"]): r for r in await runtime.pool.fetch(Q["recompute_aggregates"])
    }
    rows = await runtime.pool.fetch("SELECT * FROM subject_aggregates")
    assert {bytes(r["subject_key"]) for r in rows} == set(oracle)
    for row in rows:
        want = oracle[bytes(row["subject_key"])]
        assert row["active_reports"] == want["active_reports"] == len(row["facts"])
        assert row["platforms"] == want["platforms"]
        assert row["latest_confirmed_at"] == want["latest_confirmed_at"]


async def test_bulk_uploads_and_single_filings_racing_on_shared_buyers(
    runtime: Runtime, make_principal: MakePrincipal
) -> None:
    """Three members upload while a fourth files singly, all about one pool of
    buyers (half already on record): no deadlock, no lost or doubled fact."""
    members = [await make_principal() for _ in range(4)]
    buyers = [pseudonym() for _ in range(400)]
    for p in buyers[:200]:
        await runtime.ledger.file(
            members[3].principal_id,
            domain_report(identifiers=[{"kind": "phone", "pseudonym": p}]),
        )

    def about(i: int, j: int) -> list[dict[str, str]]:
        return [
            {"kind": "phone", "pseudonym": buyers[i % 400]},
            {"kind": "email", "pseudonym": buyers[(i * 7 + j) % 400]},
        ]

    uploads = [
        runtime.ledger.file_bulk(
            m.principal_id,
            [domain_report(identifiers=about(i, n)) for i in range(n, 400 + n, 2)],
        )
        for n, m in enumerate(members[:3], start=1)
    ]
    singles = [
        runtime.ledger.file(members[3].principal_id, domain_report(identifiers=about(i, 5)))
        for i in range(0, 400, 4)
    ]
    results = await asyncio.gather(*uploads, *singles)
    assert [r["created"] for r in results[:3]] == [200, 200, 200]
    assert all(created for created, _ in results[3:])
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 200 + 600 + 100
    await _assert_aggregates_follow_reports(runtime)


async def test_a_buyer_created_during_a_bulk_upload_is_merged_not_lost(
    runtime: Runtime, make_principal: MakePrincipal, db_url: str
) -> None:
    """The upload COPYs the aggregate rows of buyers it found new; one of them
    is created meanwhile by another transaction, so the COPY fails, its
    savepoint rolls back and that buyer's facts are merged under its lock."""
    member = await make_principal()
    bodies = [domain_report() for _ in range(250)]
    raw = base64.urlsafe_b64decode(bodies[7].identifiers[0].pseudonym + "==")
    key = runtime.ledger.keyring.subject_key(raw)
    other = {
        "id": "rpt_other", "m": "mem_other", "c": "other", "a": 100, "cur": "CNY",
        "t": "2026-01-02T03:04:05+00:00", "s": "active",
    }  # fmt: skip
    blocker = await asyncpg.connect(db_url)
    watch = await asyncpg.connect(db_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(
            "INSERT INTO subject_aggregates (subject_key, kind, active_reports, platforms,"
            " latest_confirmed_at, facts, version) VALUES ($1, 'phone', 1, 1, $2, $3::jsonb, 1)",
            key, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), json.dumps([other]),
        )  # fmt: skip
        upload = asyncio.create_task(runtime.ledger.file_bulk(member.principal_id, bodies))
        await _wait_for_lock_wait(watch, "COPY %subject_aggregates%")
        await tx.commit()
        assert (await upload)["created"] == 250
    finally:
        await blocker.close()
        await watch.close()
    row = await runtime.pool.fetchrow(
        "SELECT * FROM subject_aggregates WHERE subject_key = $1", key
    )
    assert row["active_reports"] == 2
    assert row["platforms"] == 2
    assert {f["id"] for f in row["facts"]} == {
        "rpt_other",
        (
            await runtime.pool.fetchval(
                "SELECT id FROM reports WHERE case_reference = $1", bodies[7].case_reference
            )
        ),
    }
    assert await runtime.pool.fetchval("SELECT count(*) FROM subject_aggregates") == 250


async def test_a_bulk_upload_retried_while_the_first_runs_is_counted_not_refused(
    runtime: Runtime, make_principal: MakePrincipal
) -> None:
    """A client that times out and sends its upload again while the first is
    still in flight gets the ordinary answer: the second waits on the first's
    case references, then counts them as already filed."""
    member = await make_principal()
    bodies = [domain_report() for _ in range(2000)]
    first, second = await asyncio.gather(
        runtime.ledger.file_bulk(member.principal_id, bodies),
        runtime.ledger.file_bulk(member.principal_id, bodies),
    )
    assert sorted([first["created"], second["created"]]) == [0, 2000]
    assert first["report_ids"] == second["report_ids"]
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 2000
    assert await runtime.pool.fetchval("SELECT count(*) FROM events") == 2000
    await _assert_aggregates_follow_reports(runtime)


async def test_a_buyer_row_deleted_between_the_two_phases_reruns_the_filing(
    runtime: Runtime, make_principal: MakePrincipal, db_url: str
) -> None:
    """Expiry may delete a subject's emptied row after a filing saw it exist
    and before the filing locks it: the filing rolls back and runs again (so
    it never creates a row while holding others' locks), and loses nothing."""
    earlier, member = await make_principal(), await make_principal()
    attempts = 0
    file_in = runtime.ledger._file_in

    async def counted(*args: Any) -> Any:
        nonlocal attempts
        attempts += 1
        return await file_in(*args)

    buyer = [{"kind": "phone", "pseudonym": pseudonym()}]
    await runtime.ledger.file(earlier.principal_id, domain_report(identifiers=buyer))
    runtime.ledger._file_in = counted  # type: ignore[method-assign]
    blocker = await asyncpg.connect(db_url)
    watch = await asyncpg.connect(db_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT 1 FROM subject_aggregates FOR UPDATE")
        filing = asyncio.create_task(
            runtime.ledger.file(member.principal_id, domain_report(identifiers=buyer))
        )
        await _wait_for_lock_wait(watch, "SELECT subject_key, facts FROM subject_aggregates%")
        # What expiry does to a subject left with nothing (here: forced).
        await blocker.execute("DELETE FROM subject_aggregates")
        await tx.commit()
        created, answer = await filing
        assert created
    finally:
        await blocker.close()
        await watch.close()
    assert attempts == 2
    row = await runtime.pool.fetchrow("SELECT * FROM subject_aggregates")
    assert [f["id"] for f in row["facts"]] == [answer["report_id"]]
    assert row["active_reports"] == 1
    assert await runtime.pool.fetchval("SELECT count(*) FROM reports") == 2
