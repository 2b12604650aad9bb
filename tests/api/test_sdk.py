"""The SDK's typed calls against the real app (in-process, real PostgreSQL and Valkey).

The asynchronous client calls the app through an ASGI transport; the
synchronous one, in a worker thread, through the key-service tests'
:class:`~tests.support.bridge.LoopBridge`. Both run the same call plans,
so the sync client is checked on the calls where the status matters most.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from refund_registry.client import (
    AsyncRegistryClient,
    BulkFiled,
    Filed,
    RegistryApiError,
    RegistryClient,
    Retracted,
    RiskAnswer,
    Signer,
)
from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.bridge import LoopBridge
from tests.support.factories import ident, pseudonym, report_body
from tests.support.principals import MakePrincipal


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Litestar:
    return create_app(settings, runtime_override=runtime)


@pytest.fixture
async def member(make_principal: MakePrincipal) -> Signer:
    return await make_principal()


@pytest.fixture
async def rr(app: Litestar, member: Signer) -> AsyncIterator[AsyncRegistryClient]:
    transport = httpx.ASGITransport(app=app)
    async with AsyncRegistryClient("http://registry", member, transport=transport) as client:
        yield client


async def test_filing_tells_a_new_report_from_a_replay(rr: AsyncRegistryClient) -> None:
    body = report_body()
    first = await rr.file_report(body)
    again = await rr.file_report(body)
    assert isinstance(first, Filed)
    assert (first.created, first.http.status) == (True, 201)
    assert (again.created, again.http.status) == (False, 200)
    assert (again.report_id, again.receipt) == (first.report_id, first.receipt)
    assert first.status == "active"
    with pytest.raises(RegistryApiError) as conflict:
        await rr.file_report({**body, "category": "other"})
    assert (conflict.value.status, conflict.value.code) == (
        409,
        "report.case_reference_conflict",
    )


async def test_bulk_counts_new_and_already_filed(rr: AsyncRegistryClient) -> None:
    filed_before = report_body()
    await rr.file_report(filed_before)
    bulk = await rr.file_bulk([filed_before, report_body()])
    assert isinstance(bulk, BulkFiled)
    assert (bulk.created, bulk.already_filed, bulk.http.status) == (1, 1, 201)
    assert len(bulk.report_ids) == 2
    replay = await rr.file_bulk([filed_before])
    assert (replay.created, replay.already_filed, replay.http.status) == (0, 1, 200)


async def test_query_retract_and_the_event_feed(rr: AsyncRegistryClient) -> None:
    buyer = ident(pseudonym())
    filed = await rr.file_report(report_body(identifiers=[buyer]))

    answer = await rr.query([buyer], "refund_decision")
    assert isinstance(answer, RiskAnswer)
    assert answer.score > 0
    assert answer.matched_kinds == ("phone",)
    assert answer.counts.active_reports == 1
    assert answer.notice
    assert answer.http is not None
    assert answer.http.status == 200

    nobody = ident(pseudonym())
    batch = await rr.query_batch([([buyer], "refund_decision"), ([nobody], "account_review")])
    assert [a.score > 0 for a in batch.results] == [True, False]
    assert batch.results[0].query_id != batch.results[1].query_id

    view = await rr.report(filed.report_id)
    assert (view.status, view.body["report_id"]) == (200, filed.report_id)

    retracted = await rr.retract(filed.report_id, "filed in error")
    assert isinstance(retracted, Retracted)
    assert (retracted.report_id, retracted.status) == (filed.report_id, "retracted")

    page = await rr.events(limit=100)
    kinds = [(e.type, e.report_id) for e in page.events]
    assert ("report.filed", filed.report_id) in kinds
    assert page.next_cursor
    later = await rr.events(after=page.next_cursor)
    assert all(e.cursor not in {x.cursor for x in page.events} for e in later.events)


async def test_the_sync_client_runs_the_same_calls(app: Litestar, member: Signer) -> None:
    bridge = LoopBridge(app, asyncio.get_running_loop())
    body = report_body()

    def work() -> tuple[Filed, Filed, RiskAnswer]:
        with RegistryClient("http://registry", member, transport=bridge) as client:
            first = client.file_report(body)
            again = client.file_report(body)
            return first, again, client.query(body["identifiers"], "refund_decision")

    first, again, answer = await asyncio.to_thread(work)
    assert (first.created, again.created) == (True, False)
    assert answer.counts.active_reports == 1
