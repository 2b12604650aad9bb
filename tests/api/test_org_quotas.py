"""Enumeration budgets per organisation: shared by its principals, durable, per identifier."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from refund_registry.config import Settings
from refund_registry.domain import oprf
from refund_registry.domain.quotas import EVALUATION_CEILING
from refund_registry.errors import InvalidInput
from refund_registry.keyservice.app import create_keyservice_app
from refund_registry.runtime import Runtime
from refund_registry.services import organisations
from refund_registry.services.quotas import refresh_gauges
from refund_registry.storage import organisations as org_store
from refund_registry.storage.cache import EPOCH_KEY
from refund_registry.storage.ratelimit import Limits
from tests.support.api import Api, assert_problem, serving
from tests.support.factories import ident, pseudonym
from tests.support.principals import register_principal

EVALUATE = "/v1/keyservice/evaluate"


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def blinded(count: int) -> dict[str, list[str]]:
    _, elements = oprf.blind([f"o{i}".encode() for i in range(count)])
    return {"blinded": [oprf.b64e(b) for b in elements]}


def one_query(*kinds: str) -> dict[str, Any]:
    return {
        "identifiers": [ident(pseudonym(), kind) for kind in kinds],
        "purpose": "refund_decision",
    }


class FrozenClock:
    def __init__(self) -> None:
        self.at = float(int(dt.datetime.now(dt.UTC).timestamp()))

    def __call__(self) -> float:
        return self.at


async def used(runtime: Runtime, org: str, kind: str) -> int:
    return await org_store.usage(runtime.pool, org_id=org, day=today(), kind=kind)


async def test_principals_of_one_organisation_share_the_key_service_budget(
    settings: Settings, runtime: Runtime
) -> None:
    app = create_keyservice_app(
        settings, runtime_override=runtime, limits=Limits(per_second=100, per_day=150)
    )
    clock = FrozenClock()
    app.state.keyservice.limiter.clock = clock
    first = await register_principal(runtime.pool, org="acme-shop")
    second = await register_principal(runtime.pool, org="acme-shop")
    elsewhere = await register_principal(runtime.pool)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://keyservice"
    ) as client:
        ks = Api(client)
        assert (await ks.call(first, "POST", EVALUATE, blinded(100))).status_code == 200
        # The second principal is throttled in the same second: one rate per organisation.
        assert_problem(await ks.call(second, "POST", EVALUATE, blinded(10)), 429, "rate.limited")
        clock.at += 1
        refused = await ks.call(second, "POST", EVALUATE, blinded(60))
        assert assert_problem(refused, 429, "rate.quota_exhausted")["limit"] == 150
        assert (await ks.call(second, "POST", EVALUATE, blinded(50))).status_code == 200
        # Another organisation has a budget of its own.
        assert (await ks.call(elsewhere, "POST", EVALUATE, blinded(100))).status_code == 200
    assert await used(runtime, "acme-shop", "evaluation") == 150
    assert await used(runtime, elsewhere.principal_id, "evaluation") == 100


async def test_the_daily_quota_holds_when_valkey_loses_its_counters(
    api: Api, runtime: Runtime
) -> None:
    runtime.parts.query_quota.default_per_day = 3
    member = await register_principal(runtime.pool)
    for _ in range(3):
        response = await api.call(member, "POST", "/v1/risk/query", one_query("phone"))
        assert response.status_code == 200, response.text
    assert runtime.redis is not None
    # Valkey restarted empty: every counter is gone. (The replay epoch is put
    # back as the test fixture has it, so that tokens are not refused as
    # possibly replayed; only the quota is under test.)
    await runtime.redis.flushall()
    await runtime.redis.set(EPOCH_KEY, "0")
    refused = await api.call(member, "POST", "/v1/risk/query", one_query("phone"))
    assert_problem(refused, 429, "rate.quota_exhausted")
    limiter = runtime.parts.query_limiter
    day_key = limiter.keys(member.principal_id, limiter.clock())[1]
    assert int(await runtime.redis.get(day_key) or 0) == 1  # Redis alone would have said yes
    assert await used(runtime, member.principal_id, "query") == 3


async def test_the_daily_quota_holds_across_processes_with_valkey_stopped(
    settings: Settings, tmp_path: Path, runtime: Runtime
) -> None:
    dead = settings.with_overrides(
        redis_url=f"unix://{tmp_path}/stopped.sock", query_quota_per_day=2
    )
    member = await register_principal(runtime.pool, org="two-desks")
    colleague = await register_principal(runtime.pool, org="two-desks")
    async with serving(dead) as one, serving(dead) as two:
        for _ in range(2):
            response = await Api(one).call(member, "POST", "/v1/risk/query", one_query("email"))
            assert response.status_code == 200, response.text
        # Another process, with its own in-memory fallback, another principal.
        refused = await Api(two).call(colleague, "POST", "/v1/risk/query", one_query("email"))
        assert_problem(refused, 429, "rate.quota_exhausted")
    assert await used(runtime, "two-desks", "query") == 2


async def test_a_risk_query_is_charged_per_identifier(api: Api, runtime: Runtime) -> None:
    member = await register_principal(runtime.pool)
    org = member.principal_id  # an organisation of its own
    single = await api.call(
        member, "POST", "/v1/risk/query", one_query("phone", "email", "device_id")
    )
    assert single.status_code == 200, single.text
    assert await used(runtime, org, "query") == 3
    batch = {"queries": [one_query("phone", "email"), one_query("national_id")]}
    response = await api.call(member, "POST", "/v1/risk/query/batch", batch)
    assert response.status_code == 200, response.text
    assert await used(runtime, org, "query") == 6


async def test_one_identifier_per_kind_and_a_refused_query_costs_nothing(
    api: Api, runtime: Runtime
) -> None:
    member = await register_principal(runtime.pool)
    refused = await api.call(member, "POST", "/v1/risk/query", one_query("phone", "phone"))
    doc = assert_problem(refused, 422, "query.identifier_kind_repeated")
    assert doc["violations"][0]["field"] == "identifiers[1].kind"
    batch = {"queries": [one_query("email"), one_query("email", "phone", "email")]}
    refused = await api.call(member, "POST", "/v1/risk/query/batch", batch)
    assert_problem(refused, 422, "query.identifier_kind_repeated")
    assert await used(runtime, member.principal_id, "query") == 0


async def test_a_batch_larger_than_one_seconds_rate_is_refused_before_charging(
    settings: Settings, runtime: Runtime
) -> None:
    member = await register_principal(runtime.pool)
    narrow = settings.with_overrides(query_rate_per_second=3)
    async with serving(narrow) as client:
        batch = {"queries": [one_query("phone", "email")] * 2}
        refused = await Api(client).call(member, "POST", "/v1/risk/query/batch", batch)
        assert assert_problem(refused, 422, "query.batch_identifiers")["limit"] == 3
    assert await used(runtime, member.principal_id, "query") == 0


async def test_a_quota_above_the_ceiling_needs_the_override_and_is_logged(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    await register_principal(runtime.pool, org="big-platform")
    above = EVALUATION_CEILING + 1
    with pytest.raises(InvalidInput) as refused:
        await organisations.set_quota(runtime.pool, "big-platform", evaluations_per_day=above)
    assert refused.value.code == "org.quota_above_ceiling"
    with caplog.at_level(logging.INFO, logger="refund_registry.organisations"):
        done = await organisations.set_quota(
            runtime.pool, "big-platform", evaluations_per_day=above, above_ceiling=True
        )
    assert done["evaluations_per_day"] == above
    assert done["above_ceiling"] is True
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert getattr(warning, "org", None) == "big-platform"
    # Back under the ceiling, the mark goes; the other quota is left as it was.
    done = await organisations.set_quota(runtime.pool, "big-platform", queries_per_day=10)
    assert (done["above_ceiling"], done["evaluations_per_day"]) == (True, above)
    done = await organisations.set_quota(runtime.pool, "big-platform", evaluations_per_day=None)
    assert (done["above_ceiling"], done["evaluations_per_day"]) == (False, None)
    assert done["queries_per_day"] == 10


async def test_an_organisations_own_quota_applies_to_all_its_principals(
    runtime: Runtime, api: Api
) -> None:
    member = await register_principal(runtime.pool, org="small-shop")
    colleague = await register_principal(runtime.pool, org="small-shop")
    await organisations.set_quota(runtime.pool, "small-shop", queries_per_day=2)
    runtime._principals_changed()  # as the NOTIFY of the change does
    assert (await api.call(member, "POST", "/v1/risk/query", one_query("phone"))).status_code == 200
    assert (
        await api.call(colleague, "POST", "/v1/risk/query", one_query("phone"))
    ).status_code == 200
    refused = await api.call(member, "POST", "/v1/risk/query", one_query("phone"))
    assert assert_problem(refused, 429, "rate.quota_exhausted")["limit"] == 2


async def test_per_organisation_gauges_come_from_the_durable_counts(
    api: Api, runtime: Runtime
) -> None:
    member = await register_principal(runtime.pool, org="gauged")
    assert (
        await api.call(member, "POST", "/v1/risk/query", one_query("phone", "email"))
    ).status_code == 200
    await organisations.set_quota(runtime.pool, "gauged", evaluations_per_day=1234)
    await refresh_gauges(runtime.pool, default_evaluations=1_000_000, default_queries=2_000_000)
    sample = REGISTRY.get_sample_value
    assert sample("registry_org_evaluations_today", {"org": "gauged"}) == 0
    assert sample("registry_org_daily_quota", {"org": "gauged"}) == 1234
    assert sample("registry_org_queries_today", {"org": "gauged"}) == 2
    assert sample("registry_org_daily_query_quota", {"org": "gauged"}) == 2_000_000


async def test_a_principal_inserted_without_organisation_gets_its_own(runtime: Runtime) -> None:
    await runtime.pool.execute(
        "INSERT INTO principals (id, name, role) VALUES ('mbr_lonely', 'Lonely', 'member')"
    )
    budget = await org_store.budget_of(runtime.pool, "mbr_lonely")
    assert budget is not None
    assert budget.org_id == "mbr_lonely"


async def test_an_organisation_id_is_checked(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput) as refused:
        await register_principal(runtime.pool, org="Not An Id!")
    assert refused.value.code == "org.id"
