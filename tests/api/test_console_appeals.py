"""The console's appeal pages over HTTP: the member's inbox, the adjudicator's queue and
case, and the role checks of every page; each staff member in a browser-like client."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from tests.support.api import Api, asgi_client
from tests.support.appeals import Cast, appeal, make_cast
from tests.support.buyers import attach_keyservice
from tests.support.console import form_token, sign_in
from tests.support.principals import MakePrincipal


@pytest.fixture(autouse=True)
def keyservice(runtime: Runtime, settings: Settings) -> None:
    attach_keyservice(runtime, settings)


class Browsers:
    """One cookie jar per staff member, as separate browsers would have."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.open: list[httpx.AsyncClient] = []

    async def signed_in(self, principal_id: str) -> httpx.AsyncClient:
        client = asgi_client(self.settings, self.runtime)
        self.open.append(client)
        await sign_in(client, self.runtime, principal_id)
        return client


@pytest.fixture
async def browsers(settings: Settings, runtime: Runtime) -> AsyncIterator[Browsers]:
    made = Browsers(settings, runtime)
    try:
        yield made
    finally:
        for client in made.open:
            await client.aclose()


async def _post(client: httpx.AsyncClient, page: str, target: str, **fields: str) -> httpx.Response:
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    return await client.post(target, data={"csrf_token": form_token(shown.text), **fields})


async def _appealed(api: Api, make_principal: MakePrincipal) -> tuple[Cast, str]:
    cast = await make_cast(api, make_principal)
    filed = await appeal(api, cast.buyer, cast.report_id)
    return cast, str(filed["appeal_id"])


async def test_member_answers_then_adjudicator_decides_and_the_appeal_leaves_the_queue(
    api: Api, make_principal: MakePrincipal, browsers: Browsers, runtime: Runtime
) -> None:
    cast, appeal_id = await _appealed(api, make_principal)
    member = await browsers.signed_in(cast.reporter.principal_id)
    inbox = await member.get("/console/inbox")
    assert inbox.status_code == 200
    assert f'id="row-{appeal_id}"' in inbox.text
    case = await member.get(f"/console/inbox/{appeal_id}")
    assert "I never ordered this." in case.text
    # Upholding needs a summary: refused with the form kept, nothing changed.
    refused = await _post(
        member, f"/console/inbox/{appeal_id}", f"/console/inbox/{appeal_id}/answer",
        action="uphold", summary="",
    )  # fmt: skip
    assert refused.status_code == 422
    assert 'id="answer-error"' in refused.text
    answered = await _post(
        member, f"/console/inbox/{appeal_id}", f"/console/inbox/{appeal_id}/answer",
        action="uphold", summary="Courier photos show the parcel delivered intact.",
    )  # fmt: skip
    assert answered.status_code == 303
    assert answered.headers["location"] == "/console/inbox?answered=uphold"
    assert f'id="row-{appeal_id}"' not in (await member.get("/console/inbox")).text

    adjudicator = await browsers.signed_in(cast.adjudicator.principal_id)
    queue = await adjudicator.get("/console/queue")
    assert f'id="row-{appeal_id}"' in queue.text
    assert "Shop Reporter" in queue.text  # the member by name
    case = await adjudicator.get(f"/console/appeals/{appeal_id}")
    assert "Courier photos show the parcel delivered intact." in case.text
    digest = re.search(r'data-expected="([A-Za-z0-9_-]{43})"', case.text)
    assert digest is not None
    decided = await _post(
        adjudicator, f"/console/appeals/{appeal_id}", f"/console/appeals/{appeal_id}/decide",
        outcome="overturned", rationale="The courier's photos do not show this buyer.",
    )  # fmt: skip
    assert decided.status_code == 303
    after = await adjudicator.get(decided.headers["location"])
    assert f'id="row-{appeal_id}"' not in after.text
    assert 'id="notice"' in after.text
    state = await runtime.pool.fetchval("SELECT state FROM appeals WHERE id = $1", appeal_id)
    assert state == "overturned"

    # Every console action is the principal's, marked as console work, with its session.
    rows = await runtime.pool.fetch(
        "SELECT actor, action, request_digest, entry FROM access_log "
        "WHERE action IN ('appeal.list', 'appeal.read', 'appeal.respond', 'appeal.decide') "
        "ORDER BY id"
    )
    assert rows
    actors = {r["actor"] for r in rows}
    assert actors == {cast.reporter.principal_id, cast.adjudicator.principal_id}
    for row in rows:
        detail = json.loads(bytes(row["entry"])).get("detail", {})
        assert detail.get("via") == "console", (row["action"], detail)
        assert row["request_digest"].startswith("css_")


async def test_a_decision_needs_reasons(
    api: Api, make_principal: MakePrincipal, browsers: Browsers, runtime: Runtime
) -> None:
    cast, appeal_id = await _appealed(api, make_principal)
    member = await browsers.signed_in(cast.reporter.principal_id)
    await _post(
        member, f"/console/inbox/{appeal_id}", f"/console/inbox/{appeal_id}/answer",
        action="uphold", summary="Photos.",
    )  # fmt: skip
    adjudicator = await browsers.signed_in(cast.adjudicator.principal_id)
    refused = await _post(
        adjudicator, f"/console/appeals/{appeal_id}", f"/console/appeals/{appeal_id}/decide",
        outcome="upheld", rationale="   ",
    )  # fmt: skip
    assert refused.status_code == 422
    assert 'id="decide-error"' in refused.text
    state = await runtime.pool.fetchval("SELECT state FROM appeals WHERE id = $1", appeal_id)
    assert state == "awaiting_adjudication"


async def test_an_auditor_can_neither_see_the_queue_nor_decide(
    api: Api, make_principal: MakePrincipal, browsers: Browsers, runtime: Runtime
) -> None:
    _cast, appeal_id = await _appealed(api, make_principal)
    auditor = await make_principal("auditor")
    client = await browsers.signed_in(auditor.principal_id)
    for path in ("/console/queue", f"/console/appeals/{appeal_id}", "/console/inbox",
                 f"/console/inbox/{appeal_id}"):  # fmt: skip
        page = await client.get(path)
        assert page.status_code == 403, path
        assert 'id="error-message"' in page.text
    signin = await client.get("/console/signin")
    for action, fields in (
        (f"/console/appeals/{appeal_id}/decide", {"outcome": "overturned", "rationale": "x"}),
        (f"/console/inbox/{appeal_id}/answer", {"action": "retract"}),
    ):
        refused = await client.post(action, data={"csrf_token": form_token(signin.text), **fields})
        assert refused.status_code == 403, action
    state = await runtime.pool.fetchval("SELECT state FROM appeals WHERE id = $1", appeal_id)
    assert state == "awaiting_member"


async def test_a_member_sees_only_its_own_appeals_and_an_adjudicator_has_no_inbox(
    api: Api, make_principal: MakePrincipal, browsers: Browsers, runtime: Runtime
) -> None:
    cast, appeal_id = await _appealed(api, make_principal)
    other = await browsers.signed_in(cast.q2.principal_id)
    inbox = await other.get("/console/inbox")
    assert inbox.status_code == 200
    assert appeal_id not in inbox.text
    assert (await other.get(f"/console/inbox/{appeal_id}")).status_code == 404
    assert (await other.get(f"/console/appeals/{appeal_id}")).status_code == 403
    assert (await other.get("/console/queue")).status_code == 403
    page = await other.get("/console/inbox")
    refused = await other.post(
        f"/console/inbox/{appeal_id}/answer",
        data={"csrf_token": form_token(page.text), "action": "retract"},
    )
    assert refused.status_code == 404
    adjudicator = await browsers.signed_in(cast.adjudicator.principal_id)
    assert (await adjudicator.get("/console/inbox")).status_code == 403
    state = await runtime.pool.fetchval("SELECT state FROM appeals WHERE id = $1", appeal_id)
    assert state == "awaiting_member"


async def test_queue_filters_and_bad_dates(
    api: Api, make_principal: MakePrincipal, browsers: Browsers
) -> None:
    cast, appeal_id = await _appealed(api, make_principal)
    adjudicator = await browsers.signed_in(cast.adjudicator.principal_id)
    default = await adjudicator.get("/console/queue")
    assert appeal_id not in default.text  # awaiting the member, not adjudication
    waiting = await adjudicator.get("/console/queue?state=awaiting_member")
    assert f'id="row-{appeal_id}"' in waiting.text
    everything = await adjudicator.get("/console/queue?state=all&due=2999-01-01")
    assert f'id="row-{appeal_id}"' in everything.text
    past = await adjudicator.get("/console/queue?state=all&due=2000-01-01")
    assert appeal_id not in past.text
    bad = await adjudicator.get("/console/queue?state=all&due=tomorrow")
    assert bad.status_code == 200
    assert 'id="due-error"' in bad.text
    unknown = await adjudicator.get("/console/appeals/apl_nothing")
    assert unknown.status_code == 404
