"""Report intake, idempotency, bulk, retraction, event feed and retention."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import pytest

from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.factories import pseudonym, report_body
from tests.support.principals import MakePrincipal


async def _count(runtime: Runtime, table: str) -> int:
    return int(await runtime.pool.fetchval(f"SELECT count(*) FROM {table}"))


async def _nothing_written(runtime: Runtime) -> None:
    for table in ("reports", "subject_aggregates", "events", "access_log", "access_subjects"):
        assert await _count(runtime, table) == 0, table


async def test_file_a_report(api: Api, make_principal: MakePrincipal, runtime: Runtime) -> None:
    member = await make_principal()
    response = await api.call(member, "POST", "/v1/reports", report_body())
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"report_id", "status", "expires_at", "receipt"}
    assert answer["status"] == "active"
    got = await api.call(member, "GET", f"/v1/reports/{answer['report_id']}")
    assert got.status_code == 200
    assert got.json()["status"] == "active"
    reads = await runtime.pool.fetchval(
        "SELECT count(*) FROM access_log WHERE action = 'report.read' AND actor = $1",
        member.principal_id,
    )
    assert reads == 1
    assert await _count(runtime, "events") == 1


async def test_same_case_reference_is_idempotent_and_different_body_conflicts(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    body = report_body()
    first = await api.call(member, "POST", "/v1/reports", body)
    again = await api.call(member, "POST", "/v1/reports", body)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    # The filing was logged in its own transaction; the retry returns the same receipt.
    receipt = first.json()["receipt"]
    assert receipt is not None
    logged = await runtime.pool.fetchval(
        "SELECT action FROM access_log WHERE leaf_hash = decode($1, 'base64')",
        receipt["leaf_hash"].replace("-", "+").replace("_", "/") + "=",
    )
    assert logged == "report.file"
    changed = dict(body, amount={"minor_units": 1, "currency": "CNY"})
    assert_problem(
        await api.call(member, "POST", "/v1/reports", changed),
        409,
        "report.case_reference_conflict",
    )
    assert await _count(runtime, "reports") == 1


async def test_twenty_identical_concurrent_requests_file_once(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    body = report_body()
    responses = await asyncio.gather(
        *(api.call(member, "POST", "/v1/reports", body) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["report_id"] for r in responses}) == 1
    assert await _count(runtime, "reports") == 1
    assert await _count(runtime, "events") == 1


async def test_another_member_may_use_the_same_case_reference(
    api: Api, make_principal: MakePrincipal
) -> None:
    a, b = await make_principal(), await make_principal()
    body = report_body()
    assert (await api.call(a, "POST", "/v1/reports", body)).status_code == 201
    assert (await api.call(b, "POST", "/v1/reports", body)).status_code == 201


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target = body
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    return body


NOW = datetime.now(UTC)
VALIDATION_CASES = [
    ("standard_of_proof.rigorous_evidence", False, "report.standard_of_proof"),
    ("evidence_kinds", ["ai_detector"], "report.evidence_insufficient"),
    ("evidence_kinds", [], "report.evidence_missing"),
    ("evidence_kinds", ["telepathy"], "report.evidence_kind_unknown"),
    ("evidence_digest", "not-a-digest", "report.evidence_digest"),
    ("refund_date", (NOW - timedelta(days=30)).date().isoformat(), "report.dates_order"),
    ("confirmed_at", (NOW + timedelta(days=2)).isoformat(), "report.confirmed_in_future"),
    (
        "buyer_notified_at",
        (NOW + timedelta(days=1)).isoformat(),
        "report.buyer_notice_after_filing",
    ),
    ("amount.minor_units", 0, "report.amount"),
    ("amount.minor_units", -5, "report.amount"),
    ("amount.currency", "XYZ", "report.currency"),
    ("category", "shoplifting", "report.category_unknown"),
    ("identifiers", [], "report.identifiers_count"),
    (
        "identifiers",
        [{"kind": "phone", "pseudonym": pseudonym()} for _ in range(11)],
        "report.identifiers_count",
    ),
    ("identifiers", [{"kind": "shoe_size", "pseudonym": pseudonym()}], "report.identifier_kind"),
    ("identifiers", [{"kind": "phone", "pseudonym": "short"}], "report.pseudonym"),
    ("case_reference", "   ", "report.case_reference"),
]


@pytest.mark.parametrize(("path", "value", "code"), VALIDATION_CASES)
async def test_each_validation_rule(
    api: Api, make_principal: MakePrincipal, runtime: Runtime, path: str, value: Any, code: str
) -> None:
    member = await make_principal()
    response = await api.call(member, "POST", "/v1/reports", _set(report_body(), path, value))
    doc = assert_problem(response, 422, code)
    assert doc["violations"][0]["code"] == code
    await _nothing_written(runtime)


async def test_duplicate_identifier_in_one_report(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    same = {"kind": "phone", "pseudonym": pseudonym()}
    body = report_body(identifiers=[same, dict(same)])
    assert_problem(
        await api.call(member, "POST", "/v1/reports", body), 422, "report.identifiers_duplicate"
    )
    await _nothing_written(runtime)


async def test_buyer_notice_must_be_present(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    body = report_body()
    del body["buyer_notified_at"]
    assert_problem(await api.call(member, "POST", "/v1/reports", body), 400, "request.invalid_body")


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"[]",
        b'"a string"',
        msgspec.json.encode(report_body(unexpected_field=1)),
        msgspec.json.encode(_set(report_body(), "amount.minor_units", "12")),
        msgspec.json.encode(_set(report_body(), "standard_of_proof.action_taken", "yes")),
        msgspec.json.encode(_set(report_body(), "confirmed_at", "2026-01-01T00:00:00")),
        msgspec.json.encode(_set(report_body(), "order_date", "yesterday")),
        b"",
    ],
)
async def test_malformed_bodies_are_400(
    api: Api, make_principal: MakePrincipal, runtime: Runtime, raw: bytes
) -> None:
    member = await make_principal()
    response = await api.call(member, "POST", "/v1/reports", raw=raw)
    assert_problem(response, 400, "request.invalid_body")
    await _nothing_written(runtime)


async def test_wrong_role_cannot_file(api: Api, make_principal: MakePrincipal) -> None:
    auditor = await make_principal("auditor")
    assert_problem(
        await api.call(auditor, "POST", "/v1/reports", report_body()), 403, "auth.forbidden_role"
    )


async def test_replayed_filing_is_refused(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    raw = msgspec.json.encode(report_body())
    headers = member.headers("POST", "/v1/reports", raw)
    assert (
        await api.call(None, "POST", "/v1/reports", raw=raw, headers=headers)
    ).status_code == 201
    replay = await api.call(None, "POST", "/v1/reports", raw=raw, headers=headers)
    assert_problem(replay, 401, "auth.replayed")


async def test_retraction_by_owner_only(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    owner, other = await make_principal(), await make_principal()
    report_id = (await api.call(owner, "POST", "/v1/reports", report_body())).json()["report_id"]
    path = f"/v1/reports/{report_id}/retract"
    assert_problem(
        await api.call(other, "POST", path, {"reason": "mine now"}), 404, "report.not_found"
    )
    assert_problem(
        await api.call(other, "GET", f"/v1/reports/{report_id}"), 404, "report.not_found"
    )
    assert_problem(await api.call(owner, "POST", path, {"reason": ""}), 422, "report.reason")
    assert_problem(await api.call(owner, "POST", path, {}), 400, "request.invalid_body")
    done = await api.call(owner, "POST", path, {"reason": "refund was in fact legitimate"})
    assert done.status_code == 200
    assert done.json()["status"] == "retracted"
    again = await api.call(owner, "POST", path, {"reason": "twice"})
    assert_problem(again, 409, "report.not_retractable")
    row = await runtime.pool.fetchrow("SELECT * FROM subject_aggregates")
    assert row["active_reports"] == 0
    assert row["facts"] == []


async def test_event_feed_pages_only_own_events(api: Api, make_principal: MakePrincipal) -> None:
    a, b = await make_principal(), await make_principal()
    for _ in range(5):
        await api.call(a, "POST", "/v1/reports", report_body())
    await api.call(b, "POST", "/v1/reports", report_body())
    seen: list[dict[str, Any]] = []
    after = ""
    while True:
        page = (await api.call(a, "GET", f"/v1/events?after={after}&limit=2")).json()
        if not page["events"]:
            break
        seen.extend(page["events"])
        after = page["next_cursor"]
    assert [e["type"] for e in seen] == ["report.filed"] * 5
    assert len({e["cursor"] for e in seen}) == 5
    b_page = (await api.call(b, "GET", "/v1/events")).json()
    assert len(b_page["events"]) == 1
    assert_problem(await api.call(a, "GET", "/v1/events?after=garbage"), 422, "events.cursor")
    assert_problem(await api.call(a, "GET", "/v1/events?limit=0"), 422, "events.limit")
    assert_problem(await api.call(a, "GET", "/v1/events?limit=x"), 422, "events.limit")


async def test_feed_never_skips_an_event_that_commits_late(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    """A transaction that started first but commits last must still be seen."""
    member = await make_principal()
    slow = await runtime.pool.acquire()
    tx = slow.transaction()
    await tx.start()
    await slow.execute(
        "INSERT INTO events (at, type, member_id, data) VALUES (now(), 'test.slow', $1, '{}')",
        member.principal_id,
    )
    await api.call(member, "POST", "/v1/reports", report_body())
    first = (await api.call(member, "GET", "/v1/events")).json()
    # The fast event is held back while the older transaction is still open.
    assert first["events"] == []
    await tx.commit()
    await runtime.pool.release(slow)
    second = (await api.call(member, "GET", f"/v1/events?after={first['next_cursor']}")).json()
    assert sorted(e["type"] for e in second["events"]) == ["report.filed", "test.slow"]


async def test_events_are_append_only_for_the_application_role(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    await api.call(member, "POST", "/v1/reports", report_body())
    for sql in ("UPDATE events SET type = 'x'", "DELETE FROM events", "TRUNCATE events"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime.pool.execute(sql)
    assert await _count(runtime, "events") == 1


async def test_events_reject_change_even_for_the_owner(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)  # the migration owner, not the app role
    try:
        await conn.execute(
            "INSERT INTO principals (id, name, role) VALUES ('mbr_x', 'x', 'member');"
            "INSERT INTO events (at, type, member_id) VALUES (now(), 't', 'mbr_x')"
        )
        for sql in ("UPDATE events SET type = 'x'", "DELETE FROM events", "TRUNCATE events"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_ancient_dates_and_a_pseudonym_under_two_kinds_are_422(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    old = report_body(buyer_notified_at="0001-01-01T00:00:00+01:00")
    assert_problem(await api.call(member, "POST", "/v1/reports", old), 422, "report.date_too_old")
    p = pseudonym()
    twice = report_body(
        identifiers=[{"kind": "phone", "pseudonym": p}, {"kind": "email", "pseudonym": p}]
    )
    doc = assert_problem(
        await api.call(member, "POST", "/v1/reports", twice), 422, "report.identifiers_duplicate"
    )
    assert "subject" not in doc["detail"]
    await _nothing_written(runtime)


@pytest.mark.parametrize("after", ["1-²", "١-1", "-", "1-", "99999999999999999999999-1"])
async def test_odd_cursors_are_4xx(api: Api, make_principal: MakePrincipal, after: str) -> None:
    member = await make_principal()
    response = await api.call(member, "GET", f"/v1/events?after={after}")
    assert 400 <= response.status_code < 500, response.text


def _confirmed_years_ago(years: int, **overrides: Any) -> dict[str, Any]:
    confirmed = datetime.now(UTC) - timedelta(days=365 * years + 30)
    return report_body(
        order_date=(confirmed - timedelta(days=20)).date().isoformat(),
        refund_date=(confirmed - timedelta(days=10)).date().isoformat(),
        confirmed_at=confirmed.isoformat(),
        amount={"minor_units": 100_000, "currency": "CNY"},  # 3 years unless a repeat case
        **overrides,
    )


async def test_a_case_whose_retention_already_ended_is_refused(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    """A case confirmed four years ago would never count (three years), so it
    is refused and nothing is written; as a repeat case (five years) it counts."""
    member, other = await make_principal(), await make_principal()
    buyer = [{"kind": "phone", "pseudonym": pseudonym()}]
    doc = assert_problem(
        await api.call(member, "POST", "/v1/reports", _confirmed_years_ago(4, identifiers=buyer)),
        422,
        "report.retention_ended",
    )
    assert doc["violations"][0]["field"] == "confirmed_at"
    await _nothing_written(runtime)

    assert (
        await api.call(other, "POST", "/v1/reports", report_body(identifiers=buyer))
    ).status_code == 201
    repeat = await api.call(
        member, "POST", "/v1/reports", _confirmed_years_ago(4, identifiers=buyer)
    )
    assert repeat.status_code == 201, repeat.text
    expires = datetime.fromisoformat(repeat.json()["expires_at"])
    assert (
        datetime.now(UTC) + timedelta(days=300) < expires < datetime.now(UTC) + timedelta(days=400)
    )


async def test_a_bulk_upload_with_one_ended_case_files_nothing(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    bodies = [report_body(), _confirmed_years_ago(4), report_body()]
    doc = assert_problem(
        await api.call(member, "POST", "/v1/reports/bulk", {"reports": bodies}),
        422,
        "bulk.invalid_items",
    )
    assert [item["index"] for item in doc["invalid_items"]] == [1]
    assert doc["invalid_items"][0]["violations"][0]["code"] == "report.retention_ended"
    await _nothing_written(runtime)
