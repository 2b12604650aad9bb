"""Organisations: their daily quotas, set by an operator, and today's usage."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import asyncpg

from refund_registry.domain.quotas import (
    EVALUATION_CEILING,
    QUERY_CEILING,
    check_org_id,
    check_quota,
)
from refund_registry.errors import NotFound
from refund_registry.storage import organisations as store

log = logging.getLogger("refund_registry.organisations")


async def set_quota(
    pool: asyncpg.Pool,
    org: str,
    *,
    evaluations_per_day: int | None = store.KEEP,
    queries_per_day: int | None = store.KEEP,
    above_ceiling: bool = False,
) -> dict[str, Any]:
    """Give ``org`` quotas of its own (``None``: back to the default; omitted: unchanged).

    A quota above its ceiling (``domain.quotas``) needs ``above_ceiling``: one
    organisation that may evaluate more than the ceiling a day sweeps the
    mobile-number space in months, not years. Every change is logged; one
    that leaves the organisation above a ceiling is logged as a warning and
    marked on the organisation's row.
    """
    check_org_id(org)
    given = {}
    if evaluations_per_day is not store.KEEP:
        check_quota(
            evaluations_per_day,
            EVALUATION_CEILING,
            above_ceiling=above_ceiling,
            name="--evaluations-per-day",
        )
        given["evaluations_per_day"] = evaluations_per_day
    if queries_per_day is not store.KEEP:
        check_quota(
            queries_per_day, QUERY_CEILING, above_ceiling=above_ceiling, name="--queries-per-day"
        )
        given["queries_per_day"] = queries_per_day
    row = await store.set_quota(pool, org, **given, ceilings=(EVALUATION_CEILING, QUERY_CEILING))
    if row is None:
        raise NotFound(f"no organisation {org!r}", code="org.not_found")
    result = {
        "org": row["id"],
        "evaluations_per_day": row["evaluations_per_day"],
        "queries_per_day": row["queries_per_day"],
        "above_ceiling": row["quota_above_ceiling"],
        "changed_at": row["quota_changed_at"].isoformat(),
    }
    if result["above_ceiling"]:
        log.warning("organisation quota above the ceiling (--above-ceiling)", extra=result)
    else:
        log.info("organisation quota set", extra=result)
    return result


async def list_all(
    pool: asyncpg.Pool, *, default_evaluations: int, default_queries: int, now: dt.datetime
) -> list[dict[str, Any]]:
    """Every organisation: principals, quotas in force (own or default) and today's usage."""
    rows = await store.list_today(pool, now.astimezone(dt.UTC).date())
    return [
        {
            "org": r["id"],
            "principals": r["principals"],
            "evaluations_per_day": r["evaluations_per_day"] or default_evaluations,
            "evaluations_today": r["evaluations_today"],
            "queries_per_day": r["queries_per_day"] or default_queries,
            "queries_today": r["queries_today"],
            "above_ceiling": r["quota_above_ceiling"],
        }
        for r in rows
    ]
