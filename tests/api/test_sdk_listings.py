"""The SDK's listing calls against the real app: typed pages and iterators that follow
``next_after`` (async through an ASGI transport, sync through the loop bridge)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from litestar import Litestar

from refund_registry.client import (
    Amount,
    AppealQueuePage,
    AsyncRegistryClient,
    ListedReport,
    QueuedAppeal,
    RegistryApiError,
    RegistryClient,
    ReportPage,
    Signer,
)
from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.bridge import LoopBridge
from tests.support.factories import report_body
from tests.support.principals import MakePrincipal
from tests.support.queue import seed_appeal

DAY = timedelta(days=1)


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Litestar:
    return create_app(settings, runtime_override=runtime)


@pytest.fixture
async def member(make_principal: MakePrincipal) -> Signer:
    return await make_principal()


def client(app: Litestar, signer: Signer) -> AsyncRegistryClient:
    return AsyncRegistryClient("http://registry", signer, transport=httpx.ASGITransport(app=app))


@pytest.fixture
async def rr(app: Litestar, member: Signer) -> AsyncIterator[AsyncRegistryClient]:
    async with client(app, member) as c:
        yield c


async def file(rr: AsyncRegistryClient, count: int) -> list[str]:
    return [(await rr.file_report(report_body())).report_id for _ in range(count)]


async def test_reports_page_by_page_newest_first(rr: AsyncRegistryClient) -> None:
    filed = await file(rr, 5)
    page = await rr.reports(limit=2)
    assert isinstance(page, ReportPage)
    assert page.http.status == 200
    assert [r.report_id for r in page.reports] == filed[::-1][:2]
    first = page.reports[0]
    assert isinstance(first, ListedReport)
    assert first.amount == Amount(129_900, "CNY")
    assert first.status == "active"
    assert page.next_after is not None
    every = [r.report_id async for r in rr.iter_reports(limit=2)]
    assert every == filed[::-1]
    rest = [r.report_id async for r in rr.iter_reports(after=page.next_after, limit=2)]
    assert rest == filed[::-1][2:]
    await rr.retract(filed[0], "filed in error")
    retracted = [r.report_id async for r in rr.iter_reports(status="retracted")]
    assert retracted == [filed[0]]


async def test_the_queue_iterator_follows_every_page(
    app: Litestar,
    rr: AsyncRegistryClient,
    runtime: Runtime,
    member: Signer,
    make_principal: MakePrincipal,
) -> None:
    now = datetime.now(UTC)
    reports = await file(rr, 3)
    ids = [
        await seed_appeal(runtime, reports[0], member.principal_id, filed_at=now - 2 * DAY),
        await seed_appeal(runtime, reports[1], member.principal_id, filed_at=now - 8 * DAY),
        await seed_appeal(runtime, reports[2], member.principal_id, filed_at=now - 5 * DAY),
    ]
    page = await rr.appeal_queue(limit=2)
    assert isinstance(page, AppealQueuePage)
    assert [a.appeal_id for a in page.appeals] == [ids[1], ids[2]]
    item = page.appeals[0]
    assert isinstance(item, QueuedAppeal)
    assert (item.state, item.member, item.days_left) == (
        "awaiting_member",
        member.principal_id,
        2,
    )
    assert item.amount == Amount(129_900, "CNY")
    assert [a.appeal_id async for a in rr.iter_appeal_queue(limit=1)] == [ids[1], ids[2], ids[0]]
    soon = [a.appeal_id async for a in rr.iter_appeal_queue(due_before=now + 6 * DAY, limit=1)]
    assert soon == [ids[1], ids[2]]
    adjudicator = await make_principal("adjudicator")
    async with client(app, adjudicator) as staff:
        seen = [a.appeal_id async for a in staff.iter_appeal_queue(state="awaiting_member")]
    assert set(ids) <= set(seen)


async def test_refusals_raise_with_their_code(rr: AsyncRegistryClient) -> None:
    with pytest.raises(RegistryApiError) as refused:
        await rr.reports(after="bm90IGEgY3Vyc29y")
    assert (refused.value.status, refused.value.code) == (400, "page.cursor")
    with pytest.raises(RegistryApiError) as refused:
        await rr.appeal_queue(limit=500)
    assert (refused.value.status, refused.value.code) == (422, "page.limit")
    with pytest.raises(ValueError, match="timezone-aware"):
        await rr.appeal_queue(due_before=datetime(2026, 12, 1))


async def test_the_sync_client_pages_the_same_way(
    app: Litestar, rr: AsyncRegistryClient, member: Signer
) -> None:
    filed = await file(rr, 3)
    bridge = LoopBridge(app, asyncio.get_running_loop())

    def work() -> list[str]:
        with RegistryClient("http://registry", member, transport=bridge) as sync:
            return [r.report_id for r in sync.iter_reports(limit=2)]

    assert await asyncio.to_thread(work) == filed[::-1]
