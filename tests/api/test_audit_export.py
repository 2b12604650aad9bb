"""``GET /v1/audit/entries.csv``: auditors only, the entries' filters, safe cells, logged."""

from __future__ import annotations

import csv
import io
import json

import pytest
from msgspec.structs import replace

from refund_registry.domain import access
from refund_registry.domain.wire import b64url
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.factories import access_record
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all

PATH = "/v1/audit/entries.csv"


async def seed(runtime: Runtime) -> None:
    sly = replace(access_record("mem_a"), purpose="@SUM(1+1)*cmd|' /C calc'!A0")
    await runtime.access_log.append_many(
        [sly, *(access_record("mem_a") for _ in range(3)), access_record("mem_b")]
    )
    assert runtime.registry is not None
    await sequence_all(runtime.pool, runtime.registry.log_key)


async def test_an_auditor_exports_the_filtered_entries(
    api: Api, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    await seed(runtime)
    auditor = await make_principal("auditor")
    response = await api.call(auditor, "GET", f"{PATH}?member=mem_a&action=risk.query")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="access-log_member-mem_a_action-risk.query.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [r["index"] for r in rows] == ["0", "1", "2", "3"]
    assert {r["actor"] for r in rows} == {"mem_a"}
    assert rows[0]["purpose"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    stored = await runtime.pool.fetchval("SELECT leaf_hash FROM log_leaves WHERE idx = 0")
    assert rows[0]["leaf_hash"].removeprefix("'") == b64url(stored)  # "'" before a leading "-"

    # The export is an audit.read entry, with a receipt for it in the header.
    receipt = json.loads(response.headers["registry-receipt"])
    assert set(receipt) == {"leaf_hash", "logged_at", "signature"}
    read = await runtime.pool.fetchval(
        "SELECT entry FROM access_log WHERE action = 'audit.read' ORDER BY id DESC LIMIT 1"
    )
    fields = access.decode(read)
    assert fields["actor"] == auditor.principal_id
    assert fields["detail"] == {
        "view": "entries.csv",
        "filters": {"member": "mem_a", "action": "risk.query"},
    }


@pytest.mark.parametrize("role", ["member", "adjudicator", "admin"])
async def test_other_roles_are_refused(api: Api, make_principal: MakePrincipal, role: str) -> None:
    other = await make_principal(role)
    assert_problem(await api.call(other, "GET", PATH), 403, "auth.forbidden_role")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("action=risk.nope", 422, "audit.action"),
        (
            "since=2026-03-02T00:00:00%2B00:00&until=2026-03-01T00:00:00%2B00:00",
            422,
            "audit.time_range",
        ),
        ("since=2026-03-02T00:00:00", 400, "request.invalid_query"),
        ("limit=5", 400, "request.invalid_query"),
        ("member=a&member=b", 400, "request.invalid_query"),
    ],
)
async def test_bad_filters_are_problems_and_nothing_is_logged(
    api: Api, runtime: Runtime, make_principal: MakePrincipal, query: str, status: int, code: str
) -> None:
    auditor = await make_principal("auditor")
    assert_problem(await api.call(auditor, "GET", f"{PATH}?{query}"), status, code)
    reads = await runtime.pool.fetchval(
        "SELECT count(*) FROM access_log WHERE action = 'audit.read'"
    )
    assert reads == 0
