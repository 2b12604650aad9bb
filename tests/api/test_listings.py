"""GET /v1/appeals (the work queue) and GET /v1/reports over HTTP: roles, order,
pages, filters and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import msgspec
import pytest

from refund_registry.client.signing import Signer
from refund_registry.http import answers
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.appeals import counts, file_report
from tests.support.factories import ident, pseudonym
from tests.support.principals import MakePrincipal
from tests.support.queue import seed_appeal

DAY = timedelta(days=1)


async def get(api: Api, who: Signer, path: str, **params: Any) -> Any:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return await api.call(who, "GET", f"{path}?{query}" if query else path)


async def ok(api: Api, who: Signer, path: str, **params: Any) -> dict[str, Any]:
    response = await get(api, who, path, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def walk(api: Api, who: Signer, path: str, key: str, **params: Any) -> list[str]:
    """Every id of a listing, following ``next_after`` page by page."""
    ids: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = await ok(api, who, path, after=after, **params)
        pages += 1
        ids += [item["appeal_id" if key == "appeals" else "report_id"] for item in page[key]]
        after = page["next_after"]
        if after is None:
            assert pages > 1 or len(page[key]) <= int(params.get("limit", 50))
            return ids


class Queue:
    def __init__(self) -> None:
        self.ids: dict[str, str] = {}


@pytest.fixture
async def members(make_principal: MakePrincipal) -> tuple[Signer, Signer]:
    return await make_principal(name="Shop A"), await make_principal(name="Shop B")


@pytest.fixture
async def queue(api: Api, runtime: Runtime, members: tuple[Signer, Signer]) -> Queue:
    """Five appeals of member A and two of member B, at known deadlines."""
    a, b = members
    now = datetime.now(UTC)
    q = Queue()
    plan = [
        ("a1", a, now - 12 * DAY, "awaiting_member", None),  # due now - 2d
        ("a2", a, now - 9 * DAY, "awaiting_member", None),  # due now + 1d
        ("a3", a, now - 15 * DAY, "awaiting_adjudication", None),  # due now + 5d
        ("a4", a, now - 3 * DAY, "awaiting_member", None),  # due now + 7d
        ("a5", a, now - 40 * DAY, "overturned", now - 20 * DAY),
        ("b1", b, now - 8 * DAY, "awaiting_member", None),  # due now + 2d
        ("b2", b, now - 30 * DAY, "withdrawn", now - 28 * DAY),
    ]
    for name, member, filed, state, closed in plan:
        report_id = await file_report(api, member, ident(pseudonym()))
        q.ids[name] = await seed_appeal(
            runtime, report_id, member.principal_id, filed_at=filed, state=state, closed_at=closed
        )
    return q


def names(q: Queue, ids: list[str]) -> list[str]:
    back = {v: k for k, v in q.ids.items()}
    return [back[i] for i in ids]


# --------------------------------------------------------------------------- the queue


async def test_adjudicator_sees_all_soonest_deadline_first(
    api: Api, make_principal: MakePrincipal, queue: Queue
) -> None:
    adjudicator = await make_principal("adjudicator")
    page = await ok(api, adjudicator, "/v1/appeals")
    # The documented shape, unknown fields refused.
    msgspec.json.decode(msgspec.json.encode(page), type=answers.AppealQueue)
    assert names(queue, [i["appeal_id"] for i in page["appeals"]]) == [
        "a1", "a2", "b1", "a3", "a4", "b2", "a5",
    ]  # fmt: skip
    assert page["next_after"] is None
    first = page["appeals"][0]
    assert first["days_left"] == -2  # the deadline passed two days (and a moment) ago
    assert first["due"].endswith("Z")
    assert first["amount"] == {"minor_units": 129_900, "currency": "CNY"}
    assert page["appeals"][-1]["due"] is None
    assert page["appeals"][-1]["days_left"] is None


async def test_member_sees_only_appeals_on_its_own_reports(
    api: Api, members: tuple[Signer, Signer], queue: Queue
) -> None:
    a, b = members
    mine = await ok(api, b, "/v1/appeals")
    assert names(queue, [i["appeal_id"] for i in mine["appeals"]]) == ["b1", "b2"]
    assert {i["member"] for i in mine["appeals"]} == {b.principal_id}
    assert len((await ok(api, a, "/v1/appeals"))["appeals"]) == 5


async def test_auditors_may_not_list_the_queue_or_reports(
    api: Api, make_principal: MakePrincipal, queue: Queue
) -> None:
    auditor = await make_principal("auditor")
    adjudicator = await make_principal("adjudicator")
    assert_problem(await get(api, auditor, "/v1/appeals"), 403, "auth.forbidden_role")
    assert_problem(await get(api, auditor, "/v1/reports"), 403, "auth.forbidden_role")
    assert_problem(await get(api, adjudicator, "/v1/reports"), 403, "auth.forbidden_role")


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_pages_have_no_duplicates_or_gaps(
    api: Api, make_principal: MakePrincipal, queue: Queue, limit: int
) -> None:
    adjudicator = await make_principal("adjudicator")
    whole = [i["appeal_id"] for i in (await ok(api, adjudicator, "/v1/appeals"))["appeals"]]
    paged = await walk(api, adjudicator, "/v1/appeals", "appeals", limit=limit)
    assert paged == whole
    assert len(set(paged)) == len(paged) == 7


async def test_filters(api: Api, make_principal: MakePrincipal, queue: Queue) -> None:
    adjudicator = await make_principal("adjudicator")
    waiting = await ok(api, adjudicator, "/v1/appeals", state="awaiting_member")
    assert names(queue, [i["appeal_id"] for i in waiting["appeals"]]) == ["a1", "a2", "b1", "a4"]
    soon = (datetime.now(UTC) + 3 * DAY).isoformat()
    due = await ok(api, adjudicator, "/v1/appeals", due_before=soon)
    assert names(queue, [i["appeal_id"] for i in due["appeals"]]) == ["a1", "a2", "b1"]
    paged = await walk(api, adjudicator, "/v1/appeals", "appeals", limit=1, due_before=soon)
    assert names(queue, paged) == ["a1", "a2", "b1"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"after": "bm90IGEgY3Vyc29y"}, 400, "page.cursor"),
        ({"after": "!!"}, 400, "page.cursor"),
        ({"after": "x" * 600}, 400, "page.cursor"),
        ({"limit": 0}, 422, "page.limit"),
        ({"limit": 201}, 422, "page.limit"),
        ({"limit": "many"}, 422, "page.limit"),
        ({"state": "open"}, 422, "queue.state"),
        ({"due_before": "tomorrow"}, 422, "queue.due_before"),
        ({"due_before": "2026-12-01T00:00:00"}, 422, "queue.due_before"),
    ],
)
async def test_bad_parameters_are_problems_and_write_nothing(
    api: Api,
    runtime: Runtime,
    make_principal: MakePrincipal,
    params: dict[str, Any],
    status: int,
    code: str,
) -> None:
    adjudicator = await make_principal("adjudicator")
    before = await counts(runtime)
    assert_problem(await get(api, adjudicator, "/v1/appeals", **params), status, code)
    assert await counts(runtime) == before


async def test_a_cursor_is_only_good_for_its_caller_and_filters(
    api: Api, make_principal: MakePrincipal, members: tuple[Signer, Signer], queue: Queue
) -> None:
    adjudicator = await make_principal("adjudicator")
    other = await make_principal("adjudicator")
    cursor = (await ok(api, adjudicator, "/v1/appeals", limit=2))["next_after"]
    assert cursor is not None
    for who, params in (
        (other, {}),
        (members[0], {}),
        (adjudicator, {"state": "awaiting_member"}),
    ):
        refused = await get(api, who, "/v1/appeals", after=cursor, limit=2, **params)
        assert_problem(refused, 400, "page.cursor")
    # The queue's cursor is not a reports cursor either.
    assert_problem(await get(api, members[0], "/v1/reports", after=cursor), 400, "page.cursor")


async def test_each_page_is_logged(
    api: Api, runtime: Runtime, make_principal: MakePrincipal, queue: Queue
) -> None:
    adjudicator = await make_principal("adjudicator")
    await walk(api, adjudicator, "/v1/appeals", "appeals", limit=4)
    logged = await runtime.pool.fetch(
        "SELECT actor, role FROM access_log WHERE action = 'appeal.list'"
    )
    assert [(r["actor"], r["role"]) for r in logged] == [
        (adjudicator.principal_id, "adjudicator")
    ] * 2


async def test_problems_speak_chinese_first(api: Api, make_principal: MakePrincipal) -> None:
    adjudicator = await make_principal("adjudicator")
    zh = assert_problem(await get(api, adjudicator, "/v1/appeals", after="bm9wZQ"), 400)
    assert zh["title"] == "无效的游标"
    en = await api.call(
        adjudicator, "GET", "/v1/appeals?limit=500", headers={"Accept-Language": "en"}
    )
    assert assert_problem(en, 422, "page.limit")["detail"] == "limit must be 1 to 200"


# --------------------------------------------------------------------------- reports


async def test_a_member_pages_through_its_own_reports_newest_first(
    api: Api, runtime: Runtime, members: tuple[Signer, Signer]
) -> None:
    a, b = members
    filed = [await file_report(api, a, ident(pseudonym())) for _ in range(5)]
    await file_report(api, b, ident(pseudonym()))
    retracted = await api.call(
        a, "POST", f"/v1/reports/{filed[1]}/retract", {"reason": "filed in error"}
    )
    assert retracted.status_code == 200, retracted.text
    first = await ok(api, a, "/v1/reports", limit=2)
    msgspec.json.decode(msgspec.json.encode(first), type=answers.ReportPage)
    assert [r["report_id"] for r in first["reports"]] == filed[::-1][:2]
    assert await walk(api, a, "/v1/reports", "reports", limit=2) == filed[::-1]
    only = await walk(api, a, "/v1/reports", "reports", limit=1, status="retracted")
    assert only == [filed[1]]
    assert (await ok(api, b, "/v1/reports"))["reports"][0]["report_id"] not in filed
    assert_problem(await get(api, a, "/v1/reports", status="open"), 422, "report.status_filter")
    logged = await runtime.pool.fetchval(
        "SELECT count(*) FROM access_log WHERE action = 'report.list' AND actor = $1",
        a.principal_id,
    )
    assert logged == 5  # one per page answered; the refusal wrote nothing


# --------------------------------------------------------------------------- the document


async def test_the_listings_are_in_the_openapi_document(api: Api) -> None:
    doc = (await api.client.get("/schema/openapi.json")).json()
    for path, names_wanted, key in (
        ("/v1/appeals", {"state", "due_before", "after", "limit"}, "appeals"),
        ("/v1/reports", {"status", "after", "limit"}, "reports"),
    ):
        op = doc["paths"][path]["get"]
        params = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
        assert set(params) == names_wanted
        limit = params["limit"]["schema"]
        assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 200, 50)
        ok_media = op["responses"]["200"]["content"]["application/json"]
        assert ok_media["schema"]
        example = next(iter(ok_media["examples"].values()))["value"]
        assert set(example) == {key, "next_after"}
        problems = op["responses"]["400"]["content"]["application/problem+json"]["examples"]
        assert "page.cursor" in [e["value"]["code"] for e in problems.values()]
        assert op["security"] == [{"signedRequest": []}]
