"""Version-2 receipts end to end: asked for per request, one signature per flush.

Against the real app and PostgreSQL: the header picks the version, a batch
shares one signature, the group-commit writer never splits a call between
flushes, and the SDK asks for version 2 and redeems such a receipt like a
version-1 one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from refund_registry.client import AsyncRegistryClient, Signer, check_receipt_signature
from refund_registry.config import Settings
from refund_registry.domain.checkpoint import CheckpointError, verifier_key_string
from refund_registry.domain.wire import b64url_decode
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from refund_registry.services.sequencer import DEFAULT_ORIGIN
from refund_registry.storage.accesslog import AccessLog
from tests.support.api import Api, assert_problem
from tests.support.factories import access_record, ident, pseudonym
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all

V2 = {"Registry-Receipt-Version": "2"}


def _query() -> dict[str, Any]:
    return {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}


def _verifier(runtime: Runtime) -> str:
    assert runtime.registry is not None
    return verifier_key_string(DEFAULT_ORIGIN, runtime.registry.log_key.public_key())


async def test_v1_stays_the_default_and_v2_is_asked_for(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    plain = await api.call(member, "POST", "/v1/risk/query", _query())
    assert plain.status_code == 200, plain.text
    assert set(plain.json()["receipt"]) == {"leaf_hash", "logged_at", "signature"}
    one = await api.call(
        member, "POST", "/v1/risk/query", _query(), headers={"Registry-Receipt-Version": "1"}
    )
    assert set(one.json()["receipt"]) == {"leaf_hash", "logged_at", "signature"}
    asked = await api.call(member, "POST", "/v1/risk/query", _query(), headers=V2)
    assert asked.status_code == 200, asked.text
    receipt = asked.json()["receipt"]
    assert receipt["v"] == 2
    assert set(receipt) == {
        "v", "leaf_hash", "logged_at", "index", "tree_size", "path", "signature"
    }  # fmt: skip
    assert 0 <= receipt["index"] < receipt["tree_size"]
    vkey = _verifier(runtime)
    leaf = check_receipt_signature(receipt, vkey)
    at = await runtime.pool.fetchval("SELECT at FROM access_log WHERE leaf_hash = $1", leaf)
    assert at is not None
    assert receipt["logged_at"] == at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert check_receipt_signature(plain.json()["receipt"], vkey)
    with pytest.raises(CheckpointError):
        check_receipt_signature(receipt | {"logged_at": "2000-01-01T00:00:00.000000Z"}, vkey)
    with pytest.raises(CheckpointError):
        check_receipt_signature(receipt | {"v": 3}, vkey)


@pytest.mark.parametrize("value", ["3", "v2", "", "2 "])
async def test_an_unknown_version_is_refused(
    api: Api, make_principal: MakePrincipal, value: str
) -> None:
    member = await make_principal()
    response = await api.call(
        member, "POST", "/v1/risk/query", _query(), headers={"Registry-Receipt-Version": value}
    )
    assert_problem(response, 422, "query.receipt_version")


async def test_a_batch_shares_one_signature(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    queries = [_query() for _ in range(7)]
    response = await api.call(
        member, "POST", "/v1/risk/query/batch", {"queries": queries}, headers=V2
    )
    assert response.status_code == 200, response.text
    receipts = [r["receipt"] for r in response.json()["results"]]
    assert len({r["signature"] for r in receipts}) == 1
    assert len({r["index"] for r in receipts}) == 7
    assert all(r["tree_size"] >= 7 for r in receipts)
    vkey = _verifier(runtime)
    leaves = [check_receipt_signature(r, vkey) for r in receipts]
    logged = await runtime.pool.fetchval(
        "SELECT count(*) FROM access_log WHERE leaf_hash = ANY($1::bytea[])", leaves
    )
    assert logged == 7


async def test_the_writer_never_splits_a_call_and_signs_once_per_flush(runtime: Runtime) -> None:
    assert runtime.registry is not None
    key = runtime.registry.log_key
    log = AccessLog(runtime.pool, key, max_batch=2)
    try:
        calls = await asyncio.gather(
            log.append_many([access_record() for _ in range(5)], receipt_version=2),
            log.append_many([access_record() for _ in range(3)], receipt_version=2),
            log.append_many([access_record()]),
        )
    finally:
        await log.close()
    first, second, v1 = calls
    # Each call is in one flush; the first flush held only the first call.
    assert {r["tree_size"] for r in first} == {5}
    assert len({r["signature"] for r in first}) == 1
    assert {r["tree_size"] for r in second} == {3}
    assert [r["index"] for r in second] == [0, 1, 2]
    assert "v" not in v1[0]
    vkey = verifier_key_string(DEFAULT_ORIGIN, key.public_key())
    for receipt in [*first, *second, *v1]:
        check_receipt_signature(receipt, vkey)
    assert log.flushes == 3


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Litestar:
    return create_app(settings, runtime_override=runtime)


@pytest.fixture
async def rr(app: Litestar, make_principal: MakePrincipal) -> AsyncIterator[AsyncRegistryClient]:
    member: Signer = await make_principal()
    transport = httpx.ASGITransport(app=app)
    async with AsyncRegistryClient("http://registry", member, transport=transport) as client:
        yield client


async def test_the_sdk_asks_for_v2_and_redeems_it(
    rr: AsyncRegistryClient, runtime: Runtime
) -> None:
    answer = await rr.query([ident(pseudonym())], "refund_decision")
    receipt = answer.receipt
    assert receipt.v == 2
    assert receipt.tree_size is not None
    assert receipt.index is not None
    assert 0 <= receipt.index < receipt.tree_size
    vkey = _verifier(runtime)
    assert check_receipt_signature(receipt, vkey) == b64url_decode(receipt.leaf_hash)
    batch = await rr.query_batch([([ident(pseudonym())], "refund_decision")] * 3)
    assert {r.receipt.v for r in batch.results} == {2}
    assert runtime.registry is not None
    await sequence_all(runtime.pool, runtime.registry.log_key)
    audited = await rr.audit_receipt(receipt, verifier_key=vkey)
    leaf = b64url_decode(receipt.leaf_hash)
    index = await runtime.pool.fetchval(
        "SELECT l.idx FROM log_leaves l JOIN access_log a ON a.id = l.entry_id"
        " WHERE a.leaf_hash = $1",
        leaf,
    )
    assert audited.leaf_index == index
    # A receipt whose path was tampered with is refused before any proof is fetched.
    bad = receipt.__class__(
        receipt.leaf_hash, receipt.logged_at, receipt.signature, 2, 0, 2, (receipt.leaf_hash,)
    )
    with pytest.raises(CheckpointError):
        await rr.audit_receipt(bad, verifier_key=vkey)
