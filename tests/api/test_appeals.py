"""Appeals end to end over HTTP: buyer, reporting member, adjudicator, deadline worker."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refund_registry.client.signing import Signer
from refund_registry.runtime import Runtime
from refund_registry.services.appeal_closing import close_for_retraction
from refund_registry.services.appeals import AppealService
from refund_registry.storage.queries import Q
from tests.support.api import Api, assert_problem
from tests.support.appeals import (
    Cast,
    appeal,
    counts,
    file_report,
    make_cast,
    risk,
)
from tests.support.buyers import exchange, hand_off, subject_token
from tests.support.factories import ident, pseudonym
from tests.support.principals import MakePrincipal
from tests.support.tokens import bearer


def service(runtime: Runtime) -> AppealService:
    return runtime.parts.appeals


async def feed(api: Api, member: Signer) -> list[dict[str, Any]]:
    response = await api.call(member, "GET", "/v1/events?limit=1000")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def shift(runtime: Runtime, delta: timedelta) -> Callable[[], None]:
    """Move the appeal service's clock by ``delta``; returns the undo."""
    svc = service(runtime)
    original = svc.clock
    svc.clock = lambda: datetime.now(UTC) + delta
    return lambda: setattr(svc, "clock", original)


@pytest.fixture
async def cast(api: Api, make_principal: MakePrincipal) -> Cast:
    return await make_cast(api, make_principal)


# --- the whole story --------------------------------------------------------------------


async def test_silent_member_means_overturn_and_every_querier_is_told(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    before = await risk(api, cast.q1, cast.phone)
    second = await risk(api, cast.q2, cast.phone)
    assert before["band"] != "none"
    assert before["counts"] == {"active_reports": 1, "platforms": 1, "disputed": 0}

    opened = await appeal(api, cast.buyer, cast.report_id)
    assert opened["state"] == "awaiting_member"
    filed = at(opened["filed_at"])
    assert at(opened["member_response_due"]) == filed + timedelta(days=10)
    assert at(opened["decision_due"]) == filed + timedelta(days=20)
    assert [h["type"] for h in opened["history"]] == ["appeal.opened", "report.disputed"]
    # Disputed at once: the very next query weighs it as disputed.
    during = await risk(api, cast.q2, cast.phone)
    assert during["counts"]["disputed"] == 1
    assert during["score"] < before["score"]
    assert "appeal.opened" in [e["type"] for e in await feed(api, cast.reporter)]

    # The member stays silent; the worker runs eleven days later, twice.
    as_of = datetime.now(UTC) + timedelta(days=11)
    assert await service(runtime).run_deadlines(as_of) == 1
    assert await service(runtime).run_deadlines(as_of) == 0

    after = await risk(api, cast.q1, cast.phone)
    assert after["score"] == 0
    assert after["band"] == "none"
    assert after["counts"] == {"active_reports": 0, "platforms": 0, "disputed": 0}

    for member, own, other in ((cast.q1, before, second), (cast.q2, second, before)):
        corrections = [
            e for e in await feed(api, member) if e["type"] == "report.overturned_after_your_query"
        ]
        assert len(corrections) == 1
        assert corrections[0]["report_id"] == cast.report_id
        assert own["query_id"] in corrections[0]["query_ids"]
        assert other["query_id"] not in corrections[0]["query_ids"]
    reporter_events = [e["type"] for e in await feed(api, cast.reporter)]
    assert reporter_events[-4:] == [
        "appeal.opened",
        "report.disputed",
        "appeal.expired",
        "report.overturned",
    ]

    response = await api.call(None, "GET", f"/v1/appeals/{opened['appeal_id']}", headers=cast.buyer)
    assert response.status_code == 200, response.text
    view = response.json()
    assert view["state"] == "overturned"
    assert view["report"]["status"] == "overturned"
    assert view["history"][-2:] == [
        {"type": "appeal.expired", "at": view["closed_at"], "by": "system",
         "missed": "member_response_due"},
        {"type": "report.overturned", "at": view["closed_at"], "by": "system"},
    ]  # fmt: skip

    record = (await api.call(None, "GET", "/v1/subject/record", headers=cast.buyer)).json()
    assert [(r["report_id"], r["status"], r["member"]) for r in record["reports"]] == [
        (cast.report_id, "overturned", "Shop Reporter")
    ]
    assert [(a["appeal_id"], a["state"]) for a in record["appeals"]] == [
        (opened["appeal_id"], "overturned")
    ]
    # Querier One queried once more before it handed the buyer over.
    assert sorted(i["member"] for i in record["inquiries"]) == [
        "Querier One",
        "Querier One",
        "Querier One",
        "Querier Two",
        "Querier Two",
    ]
    actions = [
        r["action"] for r in await runtime.pool.fetch("SELECT action FROM access_log ORDER BY id")
    ]
    assert actions.count("appeal.open") == 1
    assert actions.count("appeal.deadline") == 1
    assert actions.count("appeal.read") == 1
    assert actions[-1] == "subject.access"


async def test_member_upholds_and_adjudicator_upholds(
    api: Api, cast: Cast, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    opened = await appeal(api, cast.buyer, cast.report_id, grounds="goods_really_defective")
    path = f"/v1/appeals/{opened['appeal_id']}"
    # The member must say why it stands by the report.
    assert_problem(
        await api.call(cast.reporter, "POST", path + "/response", {"action": "uphold"}),
        422,
        "appeal.summary_required",
    )
    answered = await api.call(
        cast.reporter,
        "POST",
        path + "/response",
        {"action": "uphold", "summary": "Forensics show the crack was painted on."},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "awaiting_adjudication"
    # The adjudicator, not the member, decides; and not without reasons.
    assert_problem(
        await api.call(cast.reporter, "POST", path + "/decision", {"outcome": "upheld",
                       "rationale": "x"}),
        403,
        "auth.forbidden_role",
    )  # fmt: skip
    assert_problem(
        await api.call(
            cast.adjudicator, "POST", path + "/decision", {"outcome": "upheld", "rationale": " "}
        ),
        422,
        "appeal.rationale_length",
    )
    decided = await api.call(
        cast.adjudicator,
        "POST",
        path + "/decision",
        {"outcome": "upheld", "rationale": "The digest matches the evidence shown."},
    )
    assert decided.status_code == 200, decided.text
    view = decided.json()
    assert view["state"] == "upheld"
    assert view["report"]["status"] == "active"
    assert view["report"]["evidence_digest"]  # the adjudicator can check the evidence
    assert (await risk(api, cast.q1, cast.phone))["counts"]["disputed"] == 0

    buyer_view = (await api.call(None, "GET", path, headers=cast.buyer)).json()
    assert buyer_view["member_summary"] == "Forensics show the crack was painted on."
    assert buyer_view["decision_rationale"] == "The digest matches the evidence shown."
    assert "evidence_digest" not in buyer_view["report"]
    assert [h["type"] for h in buyer_view["history"]] == [
        "appeal.opened",
        "report.disputed",
        "appeal.answered",
        "appeal.decided",
        "report.reinstated",
    ]
    member_view = (await api.call(cast.reporter, "GET", path)).json()
    assert member_view["statement"] == "I never ordered this."
    assert "appeal.decided" in [e["type"] for e in await feed(api, cast.reporter)]

    # Closed: every further action is a 409 naming the state.
    doc = assert_problem(
        await api.call(None, "POST", path + "/withdraw", headers=cast.buyer),
        409,
        "appeal.illegal_transition",
    )
    assert doc["state"] == "upheld"
    # Others: a stranger member gets 404, an auditor's role is never allowed.
    stranger = await make_principal()
    assert_problem(await api.call(stranger, "GET", path), 404, "appeal.not_found")
    auditor = await make_principal("auditor")
    assert_problem(await api.call(auditor, "GET", path), 403, "auth.forbidden_role")


@pytest.mark.parametrize(
    ("route", "body", "state", "report_status", "reporter_sees"),
    [
        ("response", {"action": "retract"}, "overturned", "overturned", "appeal.answered"),
        ("withdraw", None, "withdrawn", "active", "appeal.withdrawn"),
    ],
)
async def test_member_retracts_or_buyer_withdraws(
    api: Api,
    cast: Cast,
    route: str,
    body: dict[str, str] | None,
    state: str,
    report_status: str,
    reporter_sees: str,
) -> None:
    await risk(api, cast.q2, cast.phone)
    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}/{route}"
    if route == "withdraw":
        response = await api.call(None, "POST", path, headers=cast.buyer)
    else:
        response = await api.call(cast.reporter, "POST", path, body)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == state
    assert response.json()["report"]["status"] == report_status
    assert reporter_sees in [e["type"] for e in await feed(api, cast.reporter)]
    corrections = [
        e for e in await feed(api, cast.q2) if e["type"] == "report.overturned_after_your_query"
    ]
    assert len(corrections) == (1 if state == "overturned" else 0)
    expected = {"overturned": 0, "withdrawn": 1}[state]
    assert (await risk(api, cast.q1, cast.phone))["counts"]["active_reports"] == expected


async def test_adjudicator_overturns(api: Api, cast: Cast) -> None:
    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}"
    await api.call(
        cast.reporter, "POST", path + "/response", {"action": "uphold", "summary": "Video."}
    )
    decided = await api.call(
        cast.adjudicator,
        "POST",
        path + "/decision",
        {"outcome": "overturned", "rationale": "The video shows an intact parcel."},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "overturned"
    assert (await risk(api, cast.q1, cast.phone))["band"] == "none"
    # A new appeal against an overturned report is pointless, and refused.
    body = {"report_id": cast.report_id, "grounds": "other", "statement": "again"}
    assert_problem(
        await api.call(None, "POST", "/v1/appeals", body, headers=cast.buyer),
        409,
        "appeal.report_not_appealable",
    )


async def test_one_open_appeal_per_report(api: Api, cast: Cast, runtime: Runtime) -> None:
    await appeal(api, cast.buyer, cast.report_id)
    before = await counts(runtime)
    for grounds in ("other", "new_evidence"):
        body = {"report_id": cast.report_id, "grounds": grounds, "statement": "second"}
        doc = assert_problem(
            await api.call(None, "POST", "/v1/appeals", body, headers=cast.buyer),
            409,
            "appeal.already_open",
        )
        assert doc["report_status"] == "disputed"
    assert await counts(runtime) == before


async def test_a_withdrawal_means_thirty_days_before_appealing_again(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    first = await appeal(api, cast.buyer, cast.report_id)
    withdrawn = await api.call(
        None, "POST", f"/v1/appeals/{first['appeal_id']}/withdraw", headers=cast.buyer
    )
    assert withdrawn.status_code == 200, withdrawn.text
    withdrawn_at = at(withdrawn.json()["closed_at"])
    possible_from = withdrawn_at + timedelta(days=30)
    before = await counts(runtime)

    body = {"report_id": cast.report_id, "grounds": "other", "statement": "second thoughts"}
    # At once, and still a few seconds before the thirty days are up.
    for delta in (timedelta(0), possible_from - datetime.now(UTC) - timedelta(seconds=5)):
        undo = shift(runtime, delta)
        try:
            doc = assert_problem(
                await api.call(None, "POST", "/v1/appeals", body, headers=cast.buyer),
                409,
                "appeal.withdrawn_recently",
            )
        finally:
            undo()
        assert at(doc["possible_from"]) == possible_from
        assert at(doc["withdrawn_at"]) == withdrawn_at
    assert await counts(runtime) == before

    undo = shift(runtime, timedelta(days=30, seconds=5))
    try:
        second = await appeal(api, cast.buyer, cast.report_id, grounds="other")
    finally:
        undo()
    assert second["appeal_id"] != first["appeal_id"]
    assert second["state"] == "awaiting_member"
    assert at(second["filed_at"]) >= possible_from


async def decide_upheld(api: Api, cast: Cast, summary: str = "Carrier photo of the parcel.") -> str:
    """A first appeal, upheld by the member and then by an adjudicator; its id."""
    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}"
    answered = await api.call(
        cast.reporter, "POST", path + "/response", {"action": "uphold", "summary": summary}
    )
    assert answered.status_code == 200, answered.text
    decided = await api.call(
        cast.adjudicator, "POST", path + "/decision",
        {"outcome": "upheld", "rationale": "The photo matches the order."},
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    appeal_id: str = opened["appeal_id"]
    return appeal_id


async def test_after_a_decision_only_new_evidence_reopens_the_report(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    decided = await decide_upheld(api, cast)
    before = await counts(runtime)
    for grounds in ("not_me", "goods_really_defective", "already_resolved", "other"):
        body = {"report_id": cast.report_id, "grounds": grounds, "statement": "Again."}
        doc = assert_problem(
            await api.call(None, "POST", "/v1/appeals", body, headers=cast.buyer),
            422,
            "appeal.needs_new_evidence",
        )
        assert doc["allowed"] == ["new_evidence"]
    assert await counts(runtime) == before

    body = {
        "report_id": cast.report_id,
        "grounds": "new_evidence",
        "statement": "The courier has now confirmed in writing that the parcel was lost.",
    }
    response = await api.call(None, "POST", "/v1/appeals", body, headers=cast.buyer)
    assert response.status_code == 201, response.text
    second = response.json()
    # Straight to an adjudicator, due twenty days after this filing; the
    # member's earlier summary stands.
    assert second["state"] == "awaiting_adjudication"
    assert second["grounds"] == "new_evidence"
    assert second["member_response_due"] is None
    assert at(second["decision_due"]) == at(second["filed_at"]) + timedelta(days=20)
    assert second["member_summary"] == "Carrier photo of the parcel."
    assert second["report"]["status"] == "disputed"
    assert (await risk(api, cast.q1, cast.phone))["counts"]["disputed"] == 1
    opened_event = second["history"][0]
    assert opened_event["type"] == "appeal.opened"
    assert opened_event["state"] == "awaiting_adjudication"
    assert opened_event["follows"] == decided

    # The member already answered; the adjudicator decides.
    path = f"/v1/appeals/{second['appeal_id']}"
    doc = assert_problem(
        await api.call(cast.reporter, "POST", path + "/response", {"action": "retract"}),
        409,
        "appeal.illegal_transition",
    )
    assert doc["state"] == "awaiting_adjudication"
    overturned = await api.call(
        cast.adjudicator, "POST", path + "/decision",
        {"outcome": "overturned", "rationale": "The carrier's letter settles it."},
    )  # fmt: skip
    assert overturned.status_code == 200, overturned.text
    assert overturned.json()["report"]["status"] == "overturned"


async def test_an_appeal_on_new_evidence_expires_from_its_own_filing(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    await decide_upheld(api, cast)
    undo = shift(runtime, timedelta(days=5))
    try:
        second = await appeal(api, cast.buyer, cast.report_id, grounds="new_evidence")
    finally:
        undo()
    due = at(second["decision_due"])
    assert await service(runtime).run_deadlines(due - timedelta(seconds=1)) == 0
    assert await service(runtime).run_deadlines(due) == 1
    view = (await api.call(cast.adjudicator, "GET", f"/v1/appeals/{second['appeal_id']}")).json()
    assert view["state"] == "overturned"
    assert view["history"][-2] == {
        "type": "appeal.expired", "at": view["closed_at"], "by": "system",
        "missed": "decision_due",
    }  # fmt: skip


async def test_new_evidence_needs_a_decision_to_contest(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    before = await counts(runtime)
    body = {"report_id": cast.report_id, "grounds": "new_evidence", "statement": "Look at this."}
    assert_problem(
        await api.call(None, "POST", "/v1/appeals", body, headers=cast.buyer),
        422,
        "appeal.no_previous_decision",
    )
    assert await counts(runtime) == before


async def test_who_filed_and_who_withdrew_is_shown_to_every_party(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    # The buyer files through one member (q1 handed them over) and withdraws
    # through another (q2).
    opened = await appeal(api, cast.buyer, cast.report_id)
    via_q1 = {"how": "via_member", "member": cast.q1.principal_id}
    via_q2 = {"how": "via_member", "member": cast.q2.principal_id}
    assert opened["filed_by"] == via_q1
    assert opened["withdrawn_by"] is None
    path = f"/v1/appeals/{opened['appeal_id']}"
    via_second = await hand_off(api, cast.q2, cast.phone)
    response = await api.call(None, "POST", path + "/withdraw", headers=via_second)
    assert response.status_code == 200, response.text
    for party, headers in ((cast.reporter, {}), (cast.adjudicator, {}), (None, cast.buyer)):
        view = (await api.call(party, "GET", path, headers=headers)).json()
        assert (view["filed_by"], view["withdrawn_by"]) == (via_q1, via_q2)
    # Each transition's event says it, in the member's feed too.
    events = {e["type"]: e for e in await feed(api, cast.reporter)}
    assert events["appeal.opened"]["filed_by"] == via_q1
    assert events["appeal.withdrawn"]["withdrawn_by"] == via_q2
    stored = await runtime.pool.fetchrow(
        "SELECT filed_via, withdrawn_via FROM appeals WHERE id = $1", opened["appeal_id"]
    )
    assert stored is not None
    assert tuple(stored) == (cast.q1.principal_id, cast.q2.principal_id)


async def test_late_answers_lose_to_the_deadline(api: Api, cast: Cast, runtime: Runtime) -> None:
    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}/response"
    undo = shift(runtime, timedelta(days=10, seconds=1))
    try:
        doc = assert_problem(
            await api.call(cast.reporter, "POST", path, {"action": "uphold", "summary": "late"}),
            409,
            "appeal.deadline_passed",
        )
    finally:
        undo()
    assert doc["state"] == "awaiting_member"
    assert at(doc["due"]) == at(opened["member_response_due"])


async def test_retraction_by_the_report_route_shows_in_the_appeal(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    query = await risk(api, cast.q2, cast.phone)
    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}"
    retracted = await api.call(
        cast.reporter, "POST", f"/v1/reports/{cast.report_id}/retract", {"reason": "our error"}
    )
    assert retracted.status_code == 200, retracted.text
    view = (await api.call(None, "GET", path, headers=cast.buyer)).json()
    assert view["report"]["status"] == "retracted"
    assert "report.retracted" in [h["type"] for h in view["history"]]
    # The worker closes the appeal (unless the retraction already did).
    await service(runtime).run_deadlines(datetime.now(UTC))
    view = (await api.call(None, "GET", path, headers=cast.buyer)).json()
    assert (view["state"], view["closed_reason"]) == ("overturned", "report_retracted")
    assert view["history"][-1]["type"] == "appeal.closed"
    corrections = [
        e for e in await feed(api, cast.q2) if e["type"] == "report.overturned_after_your_query"
    ]
    assert [c["query_ids"] for c in corrections] == [[query["query_id"]]]


async def test_close_for_retraction_closes_the_appeal_inside_the_retraction(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    """The hook ``Ledger.retract`` may call: same outcome as the worker's, at once."""
    query = await risk(api, cast.q2, cast.phone)
    opened = await appeal(api, cast.buyer, cast.report_id)
    now = datetime.now(UTC)
    async with runtime.pool.acquire() as conn, conn.transaction():
        report = await conn.fetchrow(Q["lock_report"], cast.report_id)
        keys = [bytes(k) for k in report["subject_keys"]]
        await conn.fetchval(
            Q["set_report_status"], cast.report_id, "disputed", "retracted", now, "our error"
        )
        assert await close_for_retraction(conn, cast.report_id, keys, now) == opened["appeal_id"]
        assert await close_for_retraction(conn, cast.report_id, keys, now) is None
    view = (
        await api.call(None, "GET", f"/v1/appeals/{opened['appeal_id']}", headers=cast.buyer)
    ).json()
    assert (view["state"], view["closed_reason"]) == ("overturned", "report_retracted")
    assert view["history"][-1] == {
        "type": "appeal.closed",
        "at": view["closed_at"],
        "by": "member",
        "reason": "report_retracted",
    }
    corrections = [
        e for e in await feed(api, cast.q2) if e["type"] == "report.overturned_after_your_query"
    ]
    assert [c["query_ids"] for c in corrections] == [[query["query_id"]]]
    assert await service(runtime).run_deadlines(now + timedelta(days=30)) == 0


# --- who may see what ------------------------------------------------------------------


async def test_a_token_for_phone_a_cannot_touch_a_report_on_phone_b(
    api: Api, cast: Cast, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    phone_b = ident(pseudonym())
    other_report = await file_report(api, cast.reporter, phone_b)
    owner_b = await hand_off(api, cast.q2, phone_b)
    appeal_b = await appeal(api, owner_b, other_report)
    before = await counts(runtime)

    body = {"report_id": other_report, "grounds": "not_me", "statement": "not mine"}
    assert_problem(
        await api.call(None, "POST", "/v1/appeals", body, headers=cast.buyer),
        404,
        "report.not_found",
    )
    path = f"/v1/appeals/{appeal_b['appeal_id']}"
    assert_problem(await api.call(None, "GET", path, headers=cast.buyer), 404, "appeal.not_found")
    assert_problem(
        await api.call(None, "POST", path + "/withdraw", headers=cast.buyer),
        404,
        "appeal.not_found",
    )
    record = (await api.call(None, "GET", "/v1/subject/record", headers=cast.buyer)).json()
    assert [r["report_id"] for r in record["reports"]] == [cast.report_id]
    assert record["appeals"] == []
    # A member that did not file the report is a stranger too.
    assert_problem(
        await api.call(cast.q1, "POST", path + "/response", {"action": "retract"}),
        404,
        "appeal.not_found",
    )
    # Unknown ids look exactly like foreign ones.
    assert_problem(
        await api.call(None, "GET", "/v1/appeals/apl_nope", headers=owner_b),
        404,
        "appeal.not_found",
    )
    after = await counts(runtime)
    # Only the one successful record read was logged; nothing else was written.
    assert after[:2] == before[:2]
    assert after[2] == before[2] + 1
    assert after[3:] == before[3:]


@pytest.mark.parametrize(
    ("mint", "code"),
    [
        (lambda s, ids: subject_token(dataclasses.replace(s, clock=lambda: 0.0), *ids),
         "auth.expired"),
        (lambda s, ids: subject_token(dataclasses.replace(s, audience="elsewhere"), *ids),
         "auth.audience"),
        (lambda s, ids: s.request_token("GET", "/v1/subject/record"), "auth.wrong_type"),
        (lambda s, ids: "not.a.token", "auth.malformed"),
    ],
)  # fmt: skip
async def test_bad_subject_tokens_are_refused(
    api: Api,
    cast: Cast,
    runtime: Runtime,
    mint: Callable[[Signer, list[dict[str, str]]], str],
    code: str,
) -> None:
    before = await counts(runtime)
    assert_problem(await exchange(api, mint(cast.q1, [cast.phone])), 401, code)
    assert await counts(runtime) == before


@pytest.mark.parametrize(
    ("mint", "code"),
    [
        (lambda s, ids: bearer(s, *ids), "auth.wrong_type"),
        (lambda s, ids: s.headers("GET", "/v1/subject/record"), "auth.wrong_type"),
        (lambda s, ids: {"Authorization": "Bearer rrs_never-opened"}, "buyer.session_unknown"),
        (lambda s, ids: {"Authorization": "Bearer opaque"}, "buyer.session_unknown"),
        (lambda s, ids: {}, "auth.missing"),
    ],
)
async def test_buyer_routes_take_a_session_and_nothing_else(
    api: Api,
    cast: Cast,
    runtime: Runtime,
    mint: Callable[[Signer, list[dict[str, str]]], dict[str, str]],
    code: str,
) -> None:
    """A subject token, even a valid one, is never a bearer on a buyer route."""
    before = await counts(runtime)
    opened_body = {"report_id": cast.report_id, "grounds": "not_me", "statement": "no"}
    for method, path, body in [
        ("GET", "/v1/subject/record", None),
        ("POST", "/v1/subject/statement", {"statement": "hello"}),
        ("POST", "/v1/appeals", opened_body),
    ]:
        headers = mint(cast.q1, [cast.phone])
        response = await api.call(None, method, path, body, headers=headers)
        assert_problem(response, 401, code)
    assert await counts(runtime) == before


async def test_subject_tokens_come_from_members_only(
    api: Api, cast: Cast, runtime: Runtime
) -> None:
    assert_problem(
        await exchange(api, subject_token(cast.adjudicator, cast.phone)),
        401,
        "auth.issuer_not_member",
    )
    wrong = cast.q1.subject_token([{"kind": "iris", "value": "x"}])
    assert_problem(await exchange(api, wrong), 401, "auth.pseudonym")


# --- bad input on every route -------------------------------------------------------------


BAD_APPEALS = [
    (b"", 400, "request.invalid_body"),
    (b"{not json", 400, "request.invalid_body"),
    (b'{"report_id": "R", "grounds": "not_me"}', 400, "request.invalid_body"),
    (b'{"report_id": "R", "grounds": "not_me", "statement": "x", "extra": 1}', 400,
     "request.invalid_body"),
    (b'{"report_id": "R", "grounds": "because", "statement": "x"}', 422,
     "appeal.invalid_grounds"),
    (b'{"report_id": "R", "grounds": "not_me", "statement": "   "}', 422,
     "appeal.statement_length"),
    (('{"report_id": "R", "grounds": "not_me", "statement": "' + "x" * 2001 + '"}').encode(),
     422, "appeal.statement_length"),
    (b'{"report_id": 7, "grounds": "not_me", "statement": "x"}', 400, "request.invalid_body"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "status", "code"), BAD_APPEALS)
async def test_bad_appeal_bodies(
    api: Api, cast: Cast, runtime: Runtime, raw: bytes, status: int, code: str
) -> None:
    before = await counts(runtime)
    raw = raw.replace(b'"R"', f'"{cast.report_id}"'.encode())
    response = await api.call(
        None,
        "POST",
        "/v1/appeals",
        raw=raw,
        headers=cast.buyer | {"Content-Type": "application/json"},
    )
    assert_problem(response, status, code)
    assert await counts(runtime) == before


@pytest.mark.parametrize(
    ("route", "raw", "status", "code"),
    [
        ("response", b"", 400, "request.invalid_body"),
        ("response", b'{"action": "shrug"}', 422, "appeal.unknown_action"),
        ("response", b'{"action": "uphold", "summary": ""}', 422, "appeal.summary_required"),
        ("response", b'{"action": "uphold", "summary": "' + b"y" * 2001 + b'"}', 422,
         "appeal.summary_length"),
        ("response", b'{"action": "retract", "why": 1}', 400, "request.invalid_body"),
        ("decision", b'{"outcome": "maybe", "rationale": "r"}', 422, "appeal.unknown_action"),
        ("decision", b'{"outcome": "upheld"}', 400, "request.invalid_body"),
        ("decision", b'{"outcome": "upheld", "rationale": "' + b"z" * 2001 + b'"}', 422,
         "appeal.rationale_length"),
        ("decision", b'{"outcome": "upheld", "rationale": "fine"}', 409,
         "appeal.illegal_transition"),
        ("withdraw", b'{"reason": "bored"}', 400, "request.invalid_body"),
        ("withdraw", b"[1, 2", 400, "request.invalid_body"),
    ],
)  # fmt: skip
async def test_bad_input_on_the_appeal_action_routes(
    api: Api, cast: Cast, runtime: Runtime, route: str, raw: bytes, status: int, code: str
) -> None:
    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}/{route}"
    before = await counts(runtime)
    signer = {"response": cast.reporter, "decision": cast.adjudicator, "withdraw": None}[route]
    headers = cast.buyer if signer is None else {}
    if raw:
        headers = headers | {"Content-Type": "application/json"}
    response = await api.call(signer, "POST", path, raw=raw, headers=headers)
    doc = assert_problem(response, status, code)
    if status == 409:
        assert doc["state"] == "awaiting_member"
    assert await counts(runtime) == before
    view = await api.call(None, "GET", f"/v1/appeals/{opened['appeal_id']}", headers=cast.buyer)
    assert view.json()["state"] == "awaiting_member"


async def test_signed_request_token_is_bound_on_member_routes(api: Api, cast: Cast) -> None:
    opened = await appeal(api, cast.buyer, cast.report_id)
    path = f"/v1/appeals/{opened['appeal_id']}/response"
    # Signed for another body: the member's signature must cover what is sent.
    headers = cast.reporter.headers("POST", path, b'{"action": "uphold", "summary": "s"}')
    response = await api.call(None, "POST", path, {"action": "retract"}, headers=headers)
    assert_problem(response, 401, "auth.body_mismatch")
