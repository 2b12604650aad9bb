"""Grouped durable charges of an organisation's day: exact counts, never past the quota.

Each ``OrgQuota`` stands for one API process with Valkey lost (its limiter
counts in memory only), so the durable count in PostgreSQL is all that holds
the daily quota across them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest

from refund_registry.runtime import Runtime
from refund_registry.services.quotas import OrgQuota
from refund_registry.storage import organisations as org_store
from refund_registry.storage.cache import RedisBreaker
from refund_registry.storage.organisations import QUERY
from refund_registry.storage.ratelimit import RateLimited, RateLimiter
from tests.support.principals import register_principal


def process(runtime: Runtime, quota: int) -> OrgQuota:
    """An API process's query budget with Valkey gone: memory limiter, durable count."""
    limiter = RateLimiter(
        None, RedisBreaker(), namespace="rr:rl:query", per_second=10_000, per_day=quota
    )
    return OrgQuota(runtime.pool, limiter, kind=QUERY, default_per_day=quota)


async def durable(runtime: Runtime, org: str) -> int:
    day = dt.datetime.now(dt.UTC).date()
    return await org_store.usage(runtime.pool, org_id=org, day=day, kind=QUERY)


async def charged(quota: OrgQuota, principal: str, units: int) -> int:
    """Units handed out: ``units`` when the charge passed, 0 when it was refused."""
    try:
        await quota.charge(principal, units)
    except RateLimited as exc:
        refusal = exc.code
    else:
        return units
    assert refusal == "rate.quota_exhausted"
    return 0


async def test_concurrent_charges_share_upserts_and_count_exactly(runtime: Runtime) -> None:
    member = await register_principal(runtime.pool, org="grouped")
    one = process(runtime, 1_000_000)
    units = [1, 2, 3] * 40
    granted = await asyncio.gather(*(charged(one, member.principal_id, u) for u in units))
    assert granted == units
    assert await durable(runtime, "grouped") == sum(units)
    assert one.upserts < len(units)  # charges of one tick went in one statement


async def test_a_group_past_the_quota_refuses_exactly_the_charges_that_no_longer_fit(
    runtime: Runtime,
) -> None:
    member = await register_principal(runtime.pool, org="edge")
    colleague = await register_principal(runtime.pool, org="edge")
    other, this = process(runtime, 5), process(runtime, 5)
    assert await charged(other, colleague.principal_id, 2) == 2  # another process spent 2
    # This process's memory knows nothing of them: all three (5 units) pass it,
    # and go to PostgreSQL in one group of 5 > 5 - 2; one by one, 2 fits, the
    # next 2 does not, 1 does.
    granted = await asyncio.gather(*(charged(this, member.principal_id, u) for u in (2, 2, 1)))
    assert granted == [2, 0, 1]
    assert await durable(runtime, "edge") == 5


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_daily_quota_holds_across_processes_whatever_the_grouping(
    runtime: Runtime, seed: int
) -> None:
    rng = random.Random(seed)
    quota = 97
    org = f"swarm-{seed}"
    principals = [(await register_principal(runtime.pool, org=org)).principal_id for _ in range(3)]
    processes = [process(runtime, quota) for _ in range(3)]
    calls = [(rng.choice(processes), rng.choice(principals), rng.randint(1, 4)) for _ in range(150)]
    granted = await asyncio.gather(*(charged(q, p, u) for q, p, u in calls))
    total = await durable(runtime, org)
    # Every unit handed out is in the durable count, nothing else is, and the
    # count never passes the quota, whichever process made the charge.
    assert total == sum(granted)
    assert total <= quota
    assert 0 in granted  # the run did reach the quota
