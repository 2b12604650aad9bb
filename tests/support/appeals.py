"""One reported buyer and the principals around the report, driven over HTTP.

Shared by the appeal and subject-access tests: both start from a report on a
buyer's phone and a buyer in a session that a querying member handed over.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from refund_registry.client.signing import Signer
from refund_registry.runtime import Runtime
from tests.support.api import Api
from tests.support.buyers import hand_off
from tests.support.factories import ident, pseudonym, report_body
from tests.support.principals import MakePrincipal


async def file_report(api: Api, member: Signer, *ids: dict[str, str]) -> str:
    response = await api.call(member, "POST", "/v1/reports", report_body(identifiers=list(ids)))
    assert response.status_code == 201, response.text
    report_id: str = response.json()["report_id"]
    return report_id


async def risk(api: Api, member: Signer, *ids: dict[str, str]) -> dict[str, Any]:
    body = {"identifiers": list(ids), "purpose": "refund_decision"}
    response = await api.call(member, "POST", "/v1/risk/query", body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def appeal(
    api: Api, headers: dict[str, str], report_id: str, grounds: str = "not_me"
) -> dict[str, Any]:
    body = {"report_id": report_id, "grounds": grounds, "statement": "I never ordered this."}
    response = await api.call(None, "POST", "/v1/appeals", body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def counts(runtime: Runtime) -> tuple[int, ...]:
    """Rows that any write would add to: nothing half-written means these stay put."""
    row = await runtime.pool.fetchrow(
        "SELECT (SELECT count(*) FROM appeals) AS a, (SELECT count(*) FROM events) AS e, "
        "(SELECT count(*) FROM access_log) AS l, "
        "(SELECT count(*) FROM reports WHERE status = 'disputed') AS d, "
        "(SELECT count(*) FROM subject_aggregates WHERE statement IS NOT NULL) AS s"
    )
    return tuple(row)


@dataclasses.dataclass
class Cast:
    reporter: Signer
    q1: Signer
    q2: Signer
    adjudicator: Signer
    phone: dict[str, str]
    report_id: str
    buyer: dict[str, str]


async def make_cast(api: Api, make_principal: MakePrincipal) -> Cast:
    """A report on a buyer's phone; Querier One queried it and handed the buyer over."""
    reporter = await make_principal(name="Shop Reporter")
    q1, q2 = await make_principal(name="Querier One"), await make_principal(name="Querier Two")
    adjudicator = await make_principal("adjudicator")
    phone = ident(pseudonym())
    report_id = await file_report(api, reporter, phone)
    buyer = await hand_off(api, q1, phone)
    return Cast(reporter, q1, q2, adjudicator, phone, report_id, buyer)
