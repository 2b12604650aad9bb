"""The registry collects cosignatures from two real witness processes (2 of 2), serves
witnessed checkpoints, and a fork shown to one witness is caught by the other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from refund_registry.client import verify as audit_verify
from refund_registry.client.sdk import AsyncRegistryClient
from refund_registry.client.witnessed import check_witnessed
from refund_registry.config import Settings
from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import CheckpointError, verifier_key_string
from refund_registry.domain.witnessing import parse_witness, request_body
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from refund_registry.services.sequencer import DEFAULT_ORIGIN
from refund_registry.services.witnessing import Collector
from refund_registry.storage import tree
from tests.support.api import Api, assert_problem
from tests.support.factories import access_record
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all
from tests.support.witnesses import ToyLog, WitnessProcess, init_witness

URL = "http://registry"


@dataclass
class Registry:
    runtime: Runtime
    app: Litestar
    api: Api
    witnesses: list[WitnessProcess]
    verifier_key: str

    @property
    def keys(self) -> list[str]:
        return [w.key for w in self.witnesses]

    def collector(self) -> Collector:
        return Collector(self.runtime.pool, self.runtime.settings.witnesses)

    async def log(self, count: int) -> list[dict[str, str]]:
        return [await self.runtime.access_log.append(access_record()) for _ in range(count)]

    async def checkpoint(self) -> None:
        assert self.runtime.registry is not None
        key = self.runtime.registry.log_key
        await sequence_all(self.runtime.pool, key)


@pytest.fixture
def witness_processes(runtime: Runtime, tmp_path: Path) -> Iterator[list[WitnessProcess]]:
    assert runtime.registry is not None
    log_vkey = verifier_key_string(DEFAULT_ORIGIN, runtime.registry.log_key.public_key())
    started = [
        init_witness(tmp_path / f"w{i}", f"witness{i}.member.example", log_vkey) for i in (1, 2)
    ]
    try:
        for witness in started:
            witness.start()
        yield started
    finally:
        for witness in started:
            witness.stop()


@pytest.fixture
async def registry(
    settings: Settings, runtime: Runtime, witness_processes: list[WitnessProcess]
) -> AsyncIterator[Registry]:
    """A registry process configured with both witnesses and a policy of 2 of 2."""
    configured = tuple(parse_witness(f"{w.url} {w.key}") for w in witness_processes)
    witnessed = settings.with_overrides(witnesses=configured, witness_quorum=2)
    rt = await Runtime.start(witnessed)
    app = create_app(witnessed, runtime_override=rt)
    assert rt.registry is not None
    vkey = verifier_key_string(DEFAULT_ORIGIN, rt.registry.log_key.public_key())
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=URL
        ) as client:
            yield Registry(rt, app, Api(client), witness_processes, vkey)
    finally:
        await rt.close()


async def test_two_of_two_end_to_end(registry: Registry, make_principal: MakePrincipal) -> None:
    member, auditor = await make_principal("member"), await make_principal("auditor")
    collector = registry.collector()
    receipts = await registry.log(7)
    await registry.checkpoint()
    assert set((await collector.collect_once()).values()) == {"cosigned"}
    assert set((await collector.collect_once()).values()) == {"current"}

    answer = await registry.api.call(member, "GET", "/v1/audit/checkpoint?witnessed=2")
    assert answer.status_code == 200, answer.text
    witnessed = check_witnessed(answer.text, registry.verifier_key, registry.keys, 2)
    assert witnessed.checkpoint.size == 7
    assert sorted(c.name for c in witnessed.cosignatures) == [
        "witness1.member.example",
        "witness2.member.example",
    ]
    status = await registry.api.call(auditor, "GET", "/v1/audit/witnesses")
    assert status.status_code == 200, status.text
    assert status.json()["quorum"] == 2
    assert [w["cosigned_size"] for w in status.json()["witnesses"]] == [7, 7]
    too_many = await registry.api.call(member, "GET", "/v1/audit/checkpoint?witnessed=3")
    assert_problem(too_many, 422, "audit.witnessed")

    # The log grows; each witness gets a consistency proof from the size it holds.
    receipts += await registry.log(9)
    await registry.checkpoint()
    assert set((await collector.collect_once()).values()) == {"cosigned"}

    # A witness fed behind the collector's back answers 409; the retry starts from its size.
    await registry.log(4)
    await registry.checkpoint()
    latest = await tree.latest_checkpoint(registry.runtime.pool)
    assert latest is not None
    first = registry.witnesses[0]
    proof = [b for b in await _proof(registry, 16, latest.size)]
    direct = httpx.post(
        f"{first.url}/add-checkpoint", content=request_body(16, proof, latest.note), timeout=10
    )
    assert direct.status_code == 200
    assert (await collector.collect_once())["witness1.member.example"] == "cosigned"

    # audit verify with the quorum, and the SDK over a sample of receipts.
    verdict = await audit_verify.averify(
        URL,
        state_path=None,
        verifier_key=registry.verifier_key,
        signer=auditor,
        transport=httpx.ASGITransport(app=registry.app),
        witnesses=registry.keys,
        quorum=2,
    )
    assert verdict.ok, verdict.report()
    assert "cosigned by 2 trusted witness(es)" in verdict.report()
    async with AsyncRegistryClient(
        URL, member, transport=httpx.ASGITransport(app=registry.app)
    ) as sdk:
        for receipt in receipts[::5]:
            audited = await sdk.audit_receipt(
                receipt, verifier_key=registry.verifier_key, witnesses=registry.keys, quorum=2
            )
            assert audited.witnessed.checkpoint.size == 20
            assert len(audited.witnessed.cosignatures) == 2


async def test_verify_refuses_a_checkpoint_without_the_quorum(
    registry: Registry, make_principal: MakePrincipal
) -> None:
    """The auditor trusts witness 1 and a witness the registry never asked: 1 of 2 is no quorum."""
    auditor = await make_principal("auditor")
    await registry.log(5)
    await registry.checkpoint()
    await registry.collector().collect_once()
    stranger = init_witness(registry.witnesses[0].folder.parent / "w3", "stranger.example")
    verdict = await audit_verify.averify(
        URL,
        state_path=None,
        verifier_key=registry.verifier_key,
        signer=auditor,
        transport=httpx.ASGITransport(app=registry.app),
        witnesses=[registry.keys[0], stranger.key],
        quorum=2,
    )
    assert not verdict.ok
    assert "NOT WITNESSED" in verdict.report()
    assert "fewer than the quorum of 2" in verdict.report()
    assert verdict.report().rstrip().endswith("FAILED: the log could not be verified")


async def test_before_any_cosignature_a_witnessed_checkpoint_is_404(
    registry: Registry, make_principal: MakePrincipal
) -> None:
    member = await make_principal("member")
    await registry.log(2)
    await registry.checkpoint()
    answer = await registry.api.call(member, "GET", "/v1/audit/checkpoint?witnessed=1")
    assert_problem(answer, 404, "audit.no_witnessed_checkpoint")


async def test_a_split_view_is_refused_by_the_second_witness(
    registry: Registry, make_principal: MakePrincipal
) -> None:
    """The operator shows witness 2 a fork of size N; witness 1 cosigns the real N.

    Witness 2 then refuses the real N (422), so no tree of size N gets 2 of 2,
    and a client holding the fork with its one cosignature refuses it too.
    """
    assert registry.runtime.registry is not None
    log_key = registry.runtime.registry.log_key
    collector = registry.collector()
    await registry.log(6)
    await registry.checkpoint()
    assert set((await collector.collect_once()).values()) == {"cosigned"}
    held = 6

    await registry.log(5)
    await registry.checkpoint()
    latest = await tree.latest_checkpoint(registry.runtime.pool)
    assert latest is not None
    stored = await tree.fetch_nodes(
        registry.runtime.pool, [merkle.NodeID(0, i) for i in range(held)]
    )
    fork = ToyLog(DEFAULT_ORIGIN, log_key, [stored[(0, i)] for i in range(held)])
    fork.grow(latest.size - held, tag=b"forged")
    fork_note = fork.note()
    assert fork.root(latest.size) != latest.root
    second = registry.witnesses[1]
    fooled = httpx.post(f"{second.url}/add-checkpoint", content=fork.body(held), timeout=10)
    assert fooled.status_code == 200  # one witness alone can be shown a fork

    outcomes = await collector.collect_once()
    assert outcomes["witness1.member.example"] == "cosigned"
    assert outcomes["witness2.member.example"].startswith("failed: answered 422")

    # The same-size real checkpoint, straight to witness 2: refused as inconsistent.
    again = httpx.post(
        f"{second.url}/add-checkpoint",
        content=request_body(latest.size, [], latest.note),
        timeout=10,
    )
    assert again.status_code == 422

    # No checkpoint of size N has 2 of 2; the witnessed one stays the old one.
    member = await make_principal("member")
    answer = await registry.api.call(member, "GET", "/v1/audit/checkpoint?witnessed=2")
    assert (
        check_witnessed(answer.text, registry.verifier_key, registry.keys, 2).checkpoint.size == 6
    )
    with pytest.raises(CheckpointError, match="fewer than the quorum"):
        check_witnessed(fork_note + fooled.text, registry.verifier_key, registry.keys, 2)


async def _proof(registry: Registry, first: int, second: int) -> list[bytes]:
    from refund_registry.services.audit import consistency_proof

    return (await consistency_proof(registry.runtime.pool, first, second)).hashes
