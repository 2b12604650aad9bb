"""The appeal work queue service on the real database: who sees what, order, pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from refund_registry.client.signing import Signer
from refund_registry.errors import Forbidden, InvalidCursor, InvalidInput
from refund_registry.runtime import Runtime
from refund_registry.services.appeal_queue import QueuePage, appeal_queue
from refund_registry.services.authn import Caller
from tests.support.api import Api
from tests.support.appeals import file_report
from tests.support.factories import ident, pseudonym
from tests.support.principals import MakePrincipal
from tests.support.queue import caller, seed_appeal

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class World:
    """Two reporting members, an adjudicator and an auditor; appeals in every state."""

    def __init__(self, a: Signer, b: Signer, adjudicator: Signer, auditor: Signer) -> None:
        self.a, self.b, self.adjudicator, self.auditor = a, b, adjudicator, auditor
        self.ids: dict[str, str] = {}


@pytest.fixture
async def world(api: Api, runtime: Runtime, make_principal: MakePrincipal) -> World:
    w = World(
        await make_principal(),
        await make_principal(),
        await make_principal("adjudicator"),
        await make_principal("auditor"),
    )

    async def seed(
        name: str,
        member: Signer,
        filed: datetime,
        state: str,
        closed_at: datetime | None = None,
        grounds: str = "not_me",
    ) -> None:
        report_id = await file_report(api, member, ident(pseudonym()))
        w.ids[name] = await seed_appeal(
            runtime, report_id, member.principal_id, filed_at=filed, state=state,
            closed_at=closed_at, grounds=grounds,
        )  # fmt: skip

    # Current deadlines: a_member 10 days after filing, adjudication 20 days.
    await seed("a_member_late", w.a, NOW - 12 * DAY, "awaiting_member")  # due NOW - 2d
    await seed("a_member_soon", w.a, NOW - 5 * DAY, "awaiting_member")  # due NOW + 5d
    await seed("b_adjudication", w.b, NOW - 16 * DAY, "awaiting_adjudication")  # due NOW + 4d
    await seed("b_new_evidence", w.b, NOW - 1 * DAY, "awaiting_adjudication",
               grounds="new_evidence")  # fmt: skip  # due NOW + 19d
    await seed("a_upheld", w.a, NOW - 40 * DAY, "upheld", closed_at=NOW - 21 * DAY)
    await seed("b_withdrawn", w.b, NOW - 30 * DAY, "withdrawn", closed_at=NOW - 25 * DAY)
    return w


async def page(runtime: Runtime, viewer: Caller, **kw: object) -> QueuePage:
    return await appeal_queue(runtime.pool, runtime.access_log, viewer, now=NOW, **kw)  # type: ignore[arg-type]


async def everything(runtime: Runtime, viewer: Caller, limit: int, **kw: object) -> list[str]:
    """Every appeal id, page by page, following ``next_after``."""
    seen: list[str] = []
    after: str | None = None
    while True:
        got = await page(runtime, viewer, after=after, limit=limit, **kw)
        assert len(got.items) <= limit
        seen += [i.appeal_id for i in got.items]
        if got.next_after is None:
            return seen
        assert len(got.items) == limit
        after = got.next_after


async def test_adjudicator_sees_every_appeal_soonest_deadline_first(
    runtime: Runtime, world: World
) -> None:
    got = await page(runtime, caller(world.adjudicator, "adjudicator"))
    names = {v: k for k, v in world.ids.items()}
    assert [names[i.appeal_id] for i in got.items] == [
        "a_member_late",
        "b_adjudication",
        "a_member_soon",
        "b_new_evidence",
        "b_withdrawn",  # closed, by closing time
        "a_upheld",
    ]
    assert got.next_after is None
    first = got.items[0]
    assert first.due == NOW - 12 * DAY + 10 * DAY
    assert first.days_left == -2
    assert first.member == world.a.principal_id
    assert (first.category, first.amount_minor_units, first.currency) == (
        "ai_forged_evidence", 129_900, "CNY",
    )  # fmt: skip
    assert got.items[1].due == NOW - 16 * DAY + 20 * DAY
    assert got.items[1].days_left == 4
    assert got.items[-1].due is None
    assert got.items[-1].days_left is None


async def test_a_member_sees_only_appeals_on_its_own_reports(
    runtime: Runtime, world: World
) -> None:
    got = await page(runtime, caller(world.a, "member"))
    assert {i.appeal_id for i in got.items} == {
        world.ids["a_member_late"], world.ids["a_member_soon"], world.ids["a_upheld"]
    }  # fmt: skip
    assert {i.member for i in got.items} == {world.a.principal_id}


async def test_other_roles_are_refused(runtime: Runtime, world: World) -> None:
    with pytest.raises(Forbidden) as refused:
        await page(runtime, caller(world.auditor, "auditor"))
    assert refused.value.code == "auth.forbidden_role"


@pytest.mark.parametrize("limit", [1, 2, 4, 5])
async def test_pages_cover_the_queue_once_in_order(
    runtime: Runtime, world: World, limit: int
) -> None:
    viewer = caller(world.adjudicator, "adjudicator")
    whole = [i.appeal_id for i in (await page(runtime, viewer, limit=200)).items]
    assert await everything(runtime, viewer, limit) == whole


async def test_filters(runtime: Runtime, world: World) -> None:
    viewer = caller(world.adjudicator, "adjudicator")
    adjudication = await page(runtime, viewer, state="awaiting_adjudication")
    assert [i.appeal_id for i in adjudication.items] == [
        world.ids["b_adjudication"], world.ids["b_new_evidence"]
    ]  # fmt: skip
    due = await page(runtime, viewer, due_before=NOW + 5 * DAY)
    assert [i.appeal_id for i in due.items] == [
        world.ids["a_member_late"], world.ids["b_adjudication"]
    ]  # fmt: skip
    closed = await page(runtime, viewer, state="upheld", due_before=NOW + 100 * DAY)
    assert closed.items == ()


async def test_bad_and_foreign_cursors_are_refused(runtime: Runtime, world: World) -> None:
    adjudicator = caller(world.adjudicator, "adjudicator")
    first = await page(runtime, adjudicator, limit=2)
    assert first.next_after is not None
    for bad in ("", "nonsense", first.next_after[:-3], first.next_after + "A"):
        with pytest.raises(InvalidCursor):
            await page(runtime, adjudicator, limit=2, after=bad)
    # Another viewer, or the same viewer with other filters, may not reuse it.
    with pytest.raises(InvalidCursor):
        await page(runtime, caller(world.a, "member"), after=first.next_after)
    with pytest.raises(InvalidCursor):
        await page(runtime, adjudicator, after=first.next_after, state="upheld")


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"limit": 0}, "page.limit"),
        ({"limit": 201}, "page.limit"),
        ({"state": "open"}, "queue.state"),
        ({"due_before": datetime(2026, 1, 1)}, "queue.due_before"),
    ],
)
async def test_bad_parameters_are_refused(
    runtime: Runtime, world: World, kw: dict[str, object], code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await page(runtime, caller(world.adjudicator, "adjudicator"), **kw)
    assert refused.value.code == code


async def test_every_page_is_in_the_access_log(runtime: Runtime, world: World) -> None:
    viewer = caller(world.adjudicator, "adjudicator")
    await page(runtime, viewer, state="awaiting_member", limit=1)
    rows = await runtime.pool.fetch(
        "SELECT actor, role, action, request_digest, entry FROM access_log "
        "WHERE action = 'appeal.list'"
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row["actor"], row["role"], row["request_digest"]) == (
        world.adjudicator.principal_id, "adjudicator", viewer.request_digest,
    )  # fmt: skip
    assert b'"count":1' in bytes(row["entry"])
    assert b'"state":"awaiting_member"' in bytes(row["entry"])
