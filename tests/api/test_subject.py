"""Subject access and the buyer's statement, over HTTP in buyer sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from refund_registry.domain.reports import b64url_decode
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.appeals import Cast, appeal, counts, file_report, make_cast, risk
from tests.support.buyers import hand_off
from tests.support.factories import ident, pseudonym
from tests.support.principals import MakePrincipal


@pytest.fixture
async def cast(api: Api, make_principal: MakePrincipal) -> Cast:
    return await make_cast(api, make_principal)


async def test_record_shows_reports_inquiries_and_appeals_of_the_named_identifiers(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    shop, other_shop = await make_principal(name="Shop A"), await make_principal(name="Shop B")
    asker = await make_principal(name="Asker")
    phone, email, device = ident(pseudonym()), ident(pseudonym(), "email"), ident(pseudonym())
    on_phone = await file_report(api, shop, phone)
    on_both = await file_report(api, other_shop, phone, email)
    on_device = await file_report(api, shop, device)
    await risk(api, asker, phone)
    await risk(api, asker, phone, email)  # one query naming two identifiers: one inquiry
    # An inquiry older than twelve months is no longer shown.
    real_clock = runtime.parts.risk.clock
    runtime.parts.risk.clock = lambda: datetime.now(UTC) - timedelta(days=370)
    try:
        await risk(api, asker, phone)
    finally:
        runtime.parts.risk.clock = real_clock
    # Shop A reported the phone: it may hand the buyer over without querying.
    buyer = await hand_off(api, shop, phone, relate=False)
    appealed = await appeal(api, buyer, on_phone)

    response = await api.call(None, "GET", "/v1/subject/record", headers=buyer)
    assert response.status_code == 200, response.text
    record = response.json()
    assert {r["report_id"] for r in record["reports"]} == {on_phone, on_both}
    by_id = {r["report_id"]: r for r in record["reports"]}
    first = by_id[on_phone]
    assert first["member"] == "Shop A"
    assert first["status"] == "disputed"
    assert first["category"] == "ai_forged_evidence"
    assert first["amount"] == {"minor_units": 129_900, "currency": "CNY"}
    assert {"order_date", "refund_date", "confirmed_at", "expires_at"} <= set(first)
    # Only the kinds the token named: the email on the shared report stays unseen.
    assert by_id[on_both]["matched_kinds"] == ["phone"]
    assert by_id[on_both]["member"] == "Shop B"
    assert [(i["member"], i["purpose"]) for i in record["inquiries"]] == [
        ("Asker", "refund_decision"),
        ("Asker", "refund_decision"),
    ]
    assert [a["appeal_id"] for a in record["appeals"]] == [appealed["appeal_id"]]
    assert record["appeals"][0]["state"] == "awaiting_member"
    assert on_device not in str(record)

    # A session for the email alone sees the shared report and not the phone-only one.
    by_email = await hand_off(api, other_shop, email, relate=False)
    email_only = await api.call(None, "GET", "/v1/subject/record", headers=by_email)
    assert [r["report_id"] for r in email_only.json()["reports"]] == [on_both]
    assert email_only.json()["appeals"] == []


async def test_subject_access_is_logged_under_the_subject_keys(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    response = await api.call(None, "GET", "/v1/subject/record", headers=cast.buyer)
    assert response.status_code == 200
    row = await runtime.pool.fetchrow(
        "SELECT l.actor, l.role, s.subject_key FROM access_log l "
        "JOIN access_subjects s ON s.leaf_hash = l.leaf_hash WHERE l.action = 'subject.access'"
    )
    raw = b64url_decode(cast.phone["pseudonym"])
    assert raw is not None
    assert dict(row) == {
        "actor": cast.q1.principal_id,
        "role": "buyer",
        "subject_key": runtime.parts.keyring.subject_key(raw),
    }
    # A look through a member's hand-off is that member's inquiry, shown to the
    # buyer beside the query that gave the member its relationship.
    again = await api.call(None, "GET", "/v1/subject/record", headers=cast.buyer)
    assert [(i["member"], i["how"], i["purpose"]) for i in again.json()["inquiries"]] == [
        ("Querier One", "via_member", "subject_access"),
        ("Querier One", "query", "refund_decision"),
    ]


async def test_statement_only_after_an_upheld_appeal_and_then_shown_with_the_score(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    body = {"statement": "The parcel was damaged by the courier; see my complaint."}
    refused = await api.call(None, "POST", "/v1/subject/statement", body, headers=cast.buyer)
    assert_problem(refused, 409, "subject.statement_not_allowed")

    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}"
    await api.call(
        cast.reporter, "POST", path + "/response", {"action": "uphold", "summary": "Video."}
    )
    # Still open: no statement yet.
    refused = await api.call(None, "POST", "/v1/subject/statement", body, headers=cast.buyer)
    assert_problem(refused, 409, "subject.statement_not_allowed")
    decided = await api.call(
        cast.adjudicator, "POST", path + "/decision", {"outcome": "upheld", "rationale": "ok"}
    )
    assert decided.status_code == 200, decided.text

    too_long = {"statement": "x" * 201}
    before = await counts(runtime)
    assert_problem(
        await api.call(None, "POST", "/v1/subject/statement", too_long, headers=cast.buyer),
        422,
        "subject.statement_length",
    )
    assert_problem(
        await api.call(None, "POST", "/v1/subject/statement", {"text": "hi"}, headers=cast.buyer),
        400,
        "request.invalid_body",
    )
    assert await counts(runtime) == before

    stored = await api.call(None, "POST", "/v1/subject/statement", body, headers=cast.buyer)
    assert stored.status_code == 200, stored.text
    assert stored.json()["subjects"] == 1
    answer = await risk(api, cast.q2, cast.phone)
    assert answer["statement"] == body["statement"]
    assert "buyer_statement_attached" in [r["code"] for r in answer["reasons"]]
    record = (await api.call(None, "GET", "/v1/subject/record", headers=cast.buyer)).json()
    assert record["statement"] == body["statement"]
    logged = await runtime.pool.fetchval(
        "SELECT count(*) FROM access_log WHERE action = 'subject.statement'"
    )
    assert logged == 1

    removed = await api.call(
        None, "POST", "/v1/subject/statement", {"statement": None}, headers=cast.buyer
    )
    assert removed.status_code == 200, removed.text
    assert (await risk(api, cast.q2, cast.phone))["statement"] is None


async def test_a_withdrawn_appeal_does_not_open_the_statement(api: Api, cast: Cast) -> None:
    opened = await appeal(api, cast.buyer, cast.report_id)
    await api.call(None, "POST", f"/v1/appeals/{opened['appeal_id']}/withdraw", headers=cast.buyer)
    refused = await api.call(
        None, "POST", "/v1/subject/statement", {"statement": "hi"}, headers=cast.buyer
    )
    assert_problem(refused, 409, "subject.statement_not_allowed")
