"""The risk query end to end: scoring, freshness, logging, limits, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from refund_registry.config import Settings
from refund_registry.domain.checkpoint import verify_receipt
from refund_registry.domain.reports import b64url_decode
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem, serving
from tests.support.factories import ident, pseudonym, report_body
from tests.support.principals import MakePrincipal


async def query(
    api: Api, member: Any, *ids: dict[str, str], purpose: str = "refund_decision"
) -> Any:
    response = await api.call(
        member, "POST", "/v1/risk/query", {"identifiers": list(ids), "purpose": purpose}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_unknown_buyer_scores_zero_with_a_valid_receipt(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    answer = await query(api, member, ident(pseudonym()))
    assert answer["score"] == 0
    assert answer["band"] == "none"
    assert answer["matched_kinds"] == []
    assert answer["counts"] == {"active_reports": 0, "platforms": 0, "disputed": 0}
    assert "提出异议" in answer["notice"]  # Chinese unless the caller asks otherwise
    assert answer["query_id"].startswith("q_")
    receipt = answer["receipt"]
    leaf = b64url_decode(receipt["leaf_hash"])
    signature = b64url_decode(receipt["signature"])
    assert leaf is not None
    assert signature is not None
    row = await runtime.pool.fetchrow(
        "SELECT at, action, purpose, outcome, query_id FROM access_log WHERE leaf_hash = $1", leaf
    )
    assert dict(row) | {"at": None} == {
        "at": None,
        "action": "risk.query",
        "purpose": "refund_decision",
        "outcome": "none",
        "query_id": answer["query_id"],
    }
    from refund_registry.domain.access import micros

    public = runtime.registry.log_key.public_key()  # type: ignore[union-attr]
    assert verify_receipt(leaf, micros(row["at"]), signature, public)
    assert not verify_receipt(leaf, micros(row["at"]) + 1, signature, public)


async def test_scores_follow_the_ledger(
    api: Api, make_principal: MakePrincipal, settings: Settings
) -> None:
    a, b, asker = await make_principal(), await make_principal(), await make_principal()
    buyer = pseudonym()
    other_buyer = pseudonym()
    r1 = (await api.call(a, "POST", "/v1/reports", report_body(identifiers=[ident(buyer)]))).json()
    one = await query(api, asker, ident(buyer))
    assert one["score"] > 0
    assert one["matched_kinds"] == ["phone"]
    assert one["counts"]["active_reports"] == 1
    # Corroboration: a second platform weighs more than a second report from the first.
    same_body = report_body(identifiers=[ident(other_buyer)])
    await api.call(a, "POST", "/v1/reports", same_body)
    await api.call(a, "POST", "/v1/reports", dict(report_body(identifiers=[ident(other_buyer)])))
    await api.call(b, "POST", "/v1/reports", report_body(identifiers=[ident(buyer)]))
    two_platforms = await query(api, asker, ident(buyer))
    one_platform_twice = await query(api, asker, ident(other_buyer))
    assert two_platforms["counts"]["platforms"] == 2
    assert one_platform_twice["counts"]["platforms"] == 1
    assert two_platforms["score"] > one_platform_twice["score"] > one["score"]
    # Retract the second platform's... first report; the very next query from
    # another process (its own runtime and pools) sees it.
    b_report = await api.call(b, "POST", "/v1/reports", report_body(identifiers=[ident(buyer)]))
    assert b_report.status_code == 201
    before_b = await query(api, asker, ident(buyer))
    retracted = await api.call(
        b, "POST", f"/v1/reports/{b_report.json()['report_id']}/retract", {"reason": "mistake"}
    )
    assert retracted.status_code == 200
    async with serving(settings) as second:
        again = await query(Api(second), asker, ident(buyer))
    assert again["score"] == two_platforms["score"]
    assert again["score"] < before_b["score"]
    assert r1["status"] == "active"


async def test_matching_is_per_identifier_and_reports_count_once(
    api: Api, make_principal: MakePrincipal
) -> None:
    member, asker = await make_principal(), await make_principal()
    phone, email = pseudonym(), pseudonym()
    await api.call(
        member,
        "POST",
        "/v1/reports",
        report_body(identifiers=[ident(phone), ident(email, "email")]),
    )
    both = await query(api, asker, ident(phone), ident(email, "email"))
    only_phone = await query(api, asker, ident(phone), ident(pseudonym(), "device_id"))
    assert both["matched_kinds"] == ["phone", "email"]
    assert both["counts"]["active_reports"] == 1
    assert only_phone["matched_kinds"] == ["phone"]
    assert both["score"] == only_phone["score"]


async def test_batch_answers_in_request_order_and_logs_each_item(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member, asker = await make_principal(), await make_principal()
    reported = pseudonym()
    await api.call(member, "POST", "/v1/reports", report_body(identifiers=[ident(reported)]))
    queries = [
        {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"},
        {"identifiers": [ident(reported)], "purpose": "account_review"},
        {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"},
    ]
    response = await api.call(asker, "POST", "/v1/risk/query/batch", {"queries": queries})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["band"] == "none" for r in results] == [True, False, True]
    assert len({r["query_id"] for r in results}) == 3
    logged = await runtime.pool.fetchval(
        "SELECT count(*) FROM access_log WHERE actor = $1", asker.principal_id
    )
    assert logged == 3


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"identifiers": [{"kind": "phone", "pseudonym": "P"}]}, 400, "request.invalid_body"),
        (
            {"identifiers": [{"kind": "phone", "pseudonym": "P"}], "purpose": "curiosity"},
            422,
            "query.purpose",
        ),
        ({"identifiers": [], "purpose": "refund_decision"}, 422, "query.identifiers_count"),
        (
            {"identifiers": [{"kind": "phone", "pseudonym": "!!"}], "purpose": "refund_decision"},
            422,
            "query.pseudonym",
        ),
        (
            {"identifiers": [{"kind": "iris", "pseudonym": "P"}], "purpose": "refund_decision"},
            422,
            "query.identifier_kind",
        ),
        (
            {
                "identifiers": [{"kind": "phone", "pseudonym": "P"}] * 2,
                "purpose": "refund_decision",
            },
            422,
            "query.identifiers_duplicate",
        ),
        ({"identifiers": "phone", "purpose": "refund_decision"}, 400, "request.invalid_body"),
    ],
)
async def test_query_bad_input(
    api: Api,
    make_principal: MakePrincipal,
    runtime: Runtime,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    member = await make_principal()
    p = pseudonym()
    if isinstance(body.get("identifiers"), list):
        body = dict(
            body,
            identifiers=[
                dict(i, pseudonym=p if i["pseudonym"] == "P" else i["pseudonym"])
                for i in body["identifiers"]
            ],
        )
    assert_problem(await api.call(member, "POST", "/v1/risk/query", body), status, code)
    assert await runtime.pool.fetchval("SELECT count(*) FROM access_log") == 0


@pytest.mark.parametrize("size", [0, 1001])
async def test_batch_size_bounds(api: Api, make_principal: MakePrincipal, size: int) -> None:
    member = await make_principal()
    queries = [{"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}] * size
    assert_problem(
        await api.call(member, "POST", "/v1/risk/query/batch", {"queries": queries}),
        422,
        "query.batch_size",
    )


async def test_batch_names_every_invalid_item(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    queries = [
        {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"},
        {"identifiers": [ident(pseudonym())], "purpose": "gossip"},
        {"identifiers": [ident("x")], "purpose": "refund_decision"},
    ]
    response = await api.call(member, "POST", "/v1/risk/query/batch", {"queries": queries})
    doc = assert_problem(response, 422, "query.purpose")
    assert [i["index"] for i in doc["invalid_items"]] == [1, 2]


async def test_only_members_query(api: Api, make_principal: MakePrincipal) -> None:
    auditor = await make_principal("auditor")
    body = {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}
    assert_problem(
        await api.call(auditor, "POST", "/v1/risk/query", body), 403, "auth.forbidden_role"
    )


async def test_rate_limit_answers_429_with_retry_after(
    settings: Settings, make_principal: MakePrincipal
) -> None:
    tight = settings.with_overrides(query_rate_per_second=2, query_quota_per_day=1000)
    async with serving(tight) as client:
        api = Api(client)
        member = await make_principal()
        body = {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}
        # Fixed one-second windows: six quick requests span at most two of
        # them, so at most four pass and at least one is refused.
        responses = [await api.call(member, "POST", "/v1/risk/query", body) for _ in range(6)]
        codes = [r.status_code for r in responses]
        assert codes[0] == 200
        assert codes.count(200) <= 4
        refused = next(r for r in responses if r.status_code != 200)
        assert_problem(refused, 429, "rate.limited")
        assert int(refused.headers["retry-after"]) >= 1


async def test_queries_keep_working_without_redis(
    settings: Settings, make_principal: MakePrincipal, tmp_path: Path
) -> None:
    dead = settings.with_overrides(redis_url=f"unix://{tmp_path}/gone.sock")
    async with serving(dead) as client:
        api = Api(client)
        member, asker = await make_principal(), await make_principal()
        buyer = pseudonym()
        await api.call(member, "POST", "/v1/reports", report_body(identifiers=[ident(buyer)]))
        answer = await query(api, asker, ident(buyer))
        assert answer["score"] > 0
