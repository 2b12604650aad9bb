"""The access log over HTTP: checkpoints, proofs, auditor views, and ``audit verify``.

Proofs are checked with the pure RFC 9162 verifiers of ``domain.merkle`` and
checkpoints with ``domain.checkpoint``: nothing here trusts the server's own
word for a root. The tamper tests change the stored log as a database
superuser would (bypassing the append-only triggers) and require ``audit
verify`` to fail and to name the right index.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from litestar import Litestar

from refund_registry.client import verify as audit_verify
from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.domain import access, merkle
from refund_registry.domain.checkpoint import (
    Checkpoint,
    parse_and_verify,
    sign_checkpoint,
    verifier_key_string,
)
from refund_registry.domain.reports import b64url_decode
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from refund_registry.services.sequencer import DEFAULT_ORIGIN, sequence_once
from tests.support.api import Api, assert_problem
from tests.support.factories import access_record, b64url, ident, pseudonym
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all

URL = "http://registry"


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Litestar:
    """The API app, for running ``audit verify`` against it in-process."""
    return create_app(settings, runtime_override=runtime)


@pytest.fixture
async def audit_api(app: Litestar) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=URL) as client:
        yield Api(client)


def log_key(runtime: Runtime) -> ed25519.Ed25519PrivateKey:
    assert runtime.registry is not None
    return runtime.registry.log_key


async def sequence(runtime: Runtime, **options: Any) -> int:
    """Sequence (and checkpoint) every logged entry."""
    return await sequence_all(runtime.pool, log_key(runtime), **options)


async def ask(api: Api, member: Signer, p: str, purpose: str = "refund_decision") -> Any:
    body = {"identifiers": [ident(p)], "purpose": purpose}
    response = await api.call(member, "POST", "/v1/risk/query", body)
    assert response.status_code == 200, response.text
    return response.json()


async def get_json(api: Api, signer: Signer | None, path: str) -> Any:
    response = await api.call(signer, "GET", path)
    assert response.status_code == 200, response.text
    return response.json()


async def trusted_checkpoint(api: Api, signer: Signer) -> Checkpoint:
    key = (await api.call(None, "GET", "/v1/audit/verifier-key")).text.strip()
    response = await api.call(signer, "GET", "/v1/audit/checkpoint")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse_and_verify(response.text, key, origin=DEFAULT_ORIGIN)


def decode_hashes(values: list[str]) -> list[bytes]:
    out = []
    for value in values:
        raw = b64url_decode(value)
        assert raw is not None
        out.append(raw)
    return out


async def log_entries(runtime: Runtime, count: int, actor: str = "m_bulk") -> None:
    """Entries written the way every route writes them, without the HTTP round trips."""
    await runtime.access_log.append_many([access_record(actor) for _ in range(count)])


# --------------------------------------------------------------------------- proofs


async def test_every_receipt_gets_an_inclusion_proof_once_sequenced(
    audit_api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member, auditor = await make_principal("member"), await make_principal("auditor")
    receipts = [(await ask(audit_api, member, pseudonym()))["receipt"]]
    batch = {
        "queries": [
            {"identifiers": [ident(pseudonym())], "purpose": "account_review"} for _ in range(3)
        ]
    }
    answer = await audit_api.call(member, "POST", "/v1/risk/query/batch", batch)
    receipts += [r["receipt"] for r in answer.json()["results"]]
    receipts.append((await get_json(audit_api, auditor, "/v1/audit/entries"))["receipt"])

    # Before the sequencer's first pass there is nothing to prove against.
    assert_problem(
        await audit_api.call(member, "GET", "/v1/audit/checkpoint"), 404, "audit.no_checkpoint"
    )
    await sequence(runtime)
    late = (await ask(audit_api, member, pseudonym()))["receipt"]
    assert_problem(
        await audit_api.call(
            member, "GET", f"/v1/audit/proof/inclusion?leaf_hash={late['leaf_hash']}"
        ),
        404,
        "audit.leaf_not_sequenced",
    )
    await sequence(runtime)
    receipts.append(late)

    checkpoint = await trusted_checkpoint(audit_api, member)
    assert checkpoint.size == len(receipts)
    seen = set()
    for receipt in receipts:
        path = (
            f"/v1/audit/proof/inclusion?leaf_hash={receipt['leaf_hash']}"
            f"&tree_size={checkpoint.size}"
        )
        proof = await get_json(audit_api, member, path)
        leaf = b64url_decode(receipt["leaf_hash"])
        assert leaf is not None
        hashes = decode_hashes(proof["hashes"])
        assert proof["tree_size"] == checkpoint.size
        assert merkle.verify_inclusion(
            leaf, proof["leaf_index"], checkpoint.size, hashes, checkpoint.root
        )
        if hashes:  # a changed proof must not verify
            hashes[0] = bytes([hashes[0][0] ^ 1]) + hashes[0][1:]
            assert not merkle.verify_inclusion(
                leaf, proof["leaf_index"], checkpoint.size, hashes, checkpoint.root
            )
        seen.add(proof["leaf_index"])
    assert seen == set(range(len(receipts)))


async def test_consistency_proofs_link_every_pair_of_checkpoints(
    audit_api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    auditor = await make_principal("auditor")
    roots: dict[int, bytes] = {}
    for count in (3, 1, 9, 6):
        await log_entries(runtime, count)
        await sequence(runtime)
        checkpoint = await trusted_checkpoint(audit_api, auditor)
        roots[checkpoint.size] = checkpoint.root
    assert sorted(roots) == [3, 4, 13, 19]
    sizes = [0, *roots]
    roots[0] = merkle.EMPTY_ROOT
    for first in sizes:
        for second in sizes:
            if first > second:
                continue
            path = f"/v1/audit/proof/consistency?first={first}&second={second}"
            proof = await get_json(audit_api, auditor, path)
            assert (proof["first"], proof["second"]) == (first, second)
            hashes = decode_hashes(proof["hashes"])
            assert merkle.verify_consistency(first, second, roots[first], roots[second], hashes)
            if first not in (0, second):
                assert not merkle.verify_consistency(
                    first, second, roots[first], merkle.leaf_hash(b"forged"), hashes
                )

    # An older tree size proves inclusion against that older root; a leaf beyond it is a 404.
    rows = await runtime.pool.fetch("SELECT idx, leaf_hash FROM log_leaves WHERE idx IN (2, 10)")
    leaf = {r["idx"]: b64url(r["leaf_hash"]) for r in rows}
    proof = await get_json(
        audit_api, auditor, f"/v1/audit/proof/inclusion?leaf_hash={leaf[2]}&tree_size=4"
    )
    hashes = decode_hashes(proof["hashes"])
    assert merkle.verify_inclusion(b64url_decode(leaf[2]), 2, 4, hashes, roots[4])  # type: ignore[arg-type]
    doc = assert_problem(
        await audit_api.call(
            auditor, "GET", f"/v1/audit/proof/inclusion?leaf_hash={leaf[10]}&tree_size=4"
        ),
        404,
        "audit.leaf_not_in_tree",
    )
    assert doc["leaf_index"] == 10


async def test_bad_parameters_are_problem_documents_and_log_nothing(
    audit_api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member, auditor = await make_principal("member"), await make_principal("auditor")
    adjudicator = await make_principal("adjudicator")
    await log_entries(runtime, 3)
    await sequence(runtime)
    logged = await runtime.pool.fetchval("SELECT count(*) FROM access_log")
    unknown = b64url(secrets.token_bytes(32))
    inc = "/v1/audit/proof/inclusion"
    con = "/v1/audit/proof/consistency"
    ent = "/v1/audit/entries"
    cases: list[tuple[Signer | None, str, int, str | None]] = [
        (member, inc, 400, "request.invalid_query"),
        (auditor, f"{ent}?member=%00", 422, None),
        (auditor, f"{ent}?purpose=%00", 422, None),
        (auditor, f"{ent}?since=0001-01-01T00:00:00%2B14:00", 400, None),
        (member, f"{inc}?leaf_hash=abc", 400, "request.invalid_query"),
        (member, f"{inc}?leaf_hash={'!' * 43}", 400, "request.invalid_query"),
        (member, f"{inc}?leaf_hash={b64url(bytes(31))}", 400, "request.invalid_query"),
        (member, f"{inc}?leaf_hash={unknown}&tree_size=x", 400, "request.invalid_query"),
        (member, f"{inc}?leaf_hash={unknown}&tree_size=-1", 400, "request.invalid_query"),
        (member, f"{inc}?leaf_hash={unknown}&tree_size=0", 422, "audit.tree_size"),
        (member, f"{inc}?leaf_hash={unknown}&tree_size=4", 422, "audit.tree_size"),
        (
            member,
            f"{inc}?leaf_hash={unknown}&tree_size={'9' * 20}",
            422,
            "request.value_out_of_range",
        ),
        (member, f"{inc}?leaf_hash={unknown}", 404, "audit.leaf_not_found"),
        (member, f"{inc}?leaf_hash={unknown}&leaf_hash={unknown}", 400, "request.invalid_query"),
        (member, f"{inc}?leaf_hash={unknown}&colour=red", 400, "request.invalid_query"),
        (member, f"{con}?first=1", 400, "request.invalid_query"),
        (member, f"{con}?first=a&second=1", 400, "request.invalid_query"),
        (member, f"{con}?first=2&second=1", 422, "audit.consistency_sizes"),
        (member, f"{con}?first=0&second=4", 422, "audit.tree_size"),
        (auditor, f"{ent}?limit=0", 422, "audit.limit"),
        (auditor, f"{ent}?limit=1001", 422, "audit.limit"),
        (auditor, f"{ent}?limit=ten", 400, "request.invalid_query"),
        (auditor, f"{ent}?after=-5", 400, "request.invalid_query"),
        (auditor, f"{ent}?action=peek", 422, "audit.action"),
        (auditor, f"{ent}?since=yesterday", 400, "request.invalid_query"),
        (auditor, f"{ent}?since=2030-01-01T00:00:00", 400, "request.invalid_query"),
        (
            auditor,
            f"{ent}?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
            422,
            "audit.time_range",
        ),
        (auditor, f"{ent}?subject_key=xyz", 400, "request.invalid_query"),
        (auditor, "/v1/audit/summary", 400, "request.invalid_query"),
        (auditor, "/v1/audit/summary?day=2030-13-01", 400, "request.invalid_query"),
        (auditor, "/v1/audit/summary?day=20300101", 400, "request.invalid_query"),
        (member, "/v1/audit/checkpoint?fresh=1", 400, "request.invalid_query"),
        (None, "/v1/audit/verifier-key?x=1", 400, "request.invalid_query"),
        (member, ent, 403, "auth.forbidden_role"),
        (member, "/v1/audit/summary?day=2030-01-01", 403, "auth.forbidden_role"),
        (adjudicator, f"{inc}?leaf_hash={unknown}", 403, "auth.forbidden_role"),
        (None, "/v1/audit/checkpoint", 401, None),
        (None, ent, 401, None),
    ]
    for signer, path, status, code in cases:
        response = await audit_api.call(signer, "GET", path)
        assert response.status_code == status, (path, response.text)
        assert_problem(response, status, code)
    # Refused reads are not accesses: nothing was logged for any of them.
    assert await runtime.pool.fetchval("SELECT count(*) FROM access_log") == logged


# --------------------------------------------------------------------------- auditor views


async def test_entries_page_by_index_filter_and_are_themselves_logged(
    audit_api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    a, b = await make_principal("member"), await make_principal("member")
    auditor = await make_principal("auditor")
    x, y = pseudonym(), pseudonym()
    await ask(audit_api, a, x, "refund_decision")
    await ask(audit_api, a, y, "account_review")
    await ask(audit_api, b, x, "fraud_investigation")
    await log_entries(runtime, 4)
    await sequence(runtime)

    collected: list[dict[str, Any]] = []
    after: int | None = None
    while True:
        query = "limit=3" + (f"&after={after}" if after is not None else "")
        page = await get_json(audit_api, auditor, f"/v1/audit/entries?{query}")
        collected += page["entries"]
        if page["next_after"] is None:
            break
        after = page["next_after"]
        assert after == page["entries"][-1]["index"]
    assert [e["index"] for e in collected] == list(range(7))
    for item in collected:
        leaf = b64url_decode(item["leaf"])
        assert leaf is not None
        assert b64url(merkle.leaf_hash(leaf)) == item["leaf_hash"]
        assert msgspec.json.decode(leaf)["actor"] == item["actor"]
    assert [e["actor"] for e in collected[:3]] == [a.principal_id, a.principal_id, b.principal_id]
    assert collected[0]["purpose"] == "refund_decision"
    assert collected[0]["logged_at"].endswith("Z")

    async def indices(query: str) -> list[int]:
        page = await get_json(audit_api, auditor, f"/v1/audit/entries?{query}")
        return [e["index"] for e in page["entries"]]

    keyring = runtime.registry.keyring  # type: ignore[union-attr]
    x_key = b64url(keyring.subject_key(b64url_decode(x)))  # type: ignore[arg-type]
    assert await indices(f"member={a.principal_id}") == [0, 1]
    assert await indices(f"subject_key={x_key}") == [0, 2]
    assert await indices(f"subject_key={x_key}&member={b.principal_id}") == [2]
    assert await indices("action=risk.query&purpose=fraud_investigation") == [2]
    assert await indices("action=report.file") == []
    assert await indices("after=5") == [6]
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert await indices(f"since={soon}") == []
    assert len(await indices(f"since={past}&until={soon}")) == 7

    # Every read above was itself logged, naming its filters but never the subject key.
    reads = await runtime.pool.fetch(
        "SELECT entry FROM access_log WHERE action = 'audit.read' ORDER BY id"
    )
    assert len(reads) == 3 + 8
    subject_read = access.decode(reads[4]["entry"])
    assert subject_read["actor"] == auditor.principal_id
    assert subject_read["detail"]["filters"] == {"subject": True}
    assert len(subject_read["subjects"]) == 1
    assert x_key not in reads[4]["entry"].decode()


async def test_summary_flags_sweeps_bursts_and_unexpected_purposes(
    audit_api: Api, make_principal: MakePrincipal
) -> None:
    sweeper, careful = await make_principal("member"), await make_principal("member")
    auditor = await make_principal("auditor")
    sweep = {
        "queries": [
            {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"} for _ in range(120)
        ]
    }
    response = await audit_api.call(sweeper, "POST", "/v1/risk/query/batch", sweep)
    assert response.status_code == 200, response.text
    p, q = pseudonym(), pseudonym()
    await ask(audit_api, careful, p, "refund_decision")
    await ask(audit_api, careful, p, "account_review")
    first = await ask(audit_api, careful, q, "fraud_investigation")
    day = first["receipt"]["logged_at"][:10]

    doc = await get_json(audit_api, auditor, f"/v1/audit/summary?day={day}")
    assert doc["day"] == day
    assert "receipt" in doc
    rows = {row["member"]: row for row in doc["members"]}
    assert set(rows) == {sweeper.principal_id, careful.principal_id}
    swept = rows[sweeper.principal_id]
    assert (swept["queries"], swept["distinct_subjects"], swept["one_off_subjects"]) == (
        120,
        120,
        120,
    )
    assert swept["purposes"] == {"refund_decision": 1.0}
    assert {a["code"] for a in swept["anomalies"]} == {"subject_sweep", "burst"}
    calm = rows[careful.principal_id]
    assert (calm["queries"], calm["distinct_subjects"], calm["one_off_subjects"]) == (3, 2, 1)
    assert calm["purposes"] == {
        "account_review": 0.3333,
        "fraud_investigation": 0.3333,
        "refund_decision": 0.3333,
    }
    assert [a["code"] for a in calm["anomalies"]] == ["unexpected_purpose"]
    assert "fraud_investigation" in calm["anomalies"][0]["detail"]
    # Another day: nobody.
    empty = await get_json(audit_api, auditor, "/v1/audit/summary?day=2001-01-01")
    assert empty["members"] == []


# --------------------------------------------------------------------------- audit verify


def averify_for(app: Litestar, auditor: Signer) -> Callable[..., Awaitable[audit_verify.Verdict]]:
    async def run(**options: Any) -> audit_verify.Verdict:
        options.setdefault("verifier_key", None)
        return await audit_verify.averify(
            URL, signer=auditor, transport=httpx.ASGITransport(app=app), **options
        )

    return run


async def test_verify_passes_then_holds_the_log_to_its_state(
    app: Litestar, make_principal: MakePrincipal, runtime: Runtime, tmp_path: Path
) -> None:
    auditor = await make_principal("auditor")
    verify = averify_for(app, auditor)
    state = tmp_path / "audit-state.json"
    await log_entries(runtime, 23)
    await sequence(runtime)

    first = await verify(state_path=state, page_size=7)
    assert first.ok, first.report()
    assert (first.entries, first.first_bad_index) == (23, None)
    assert "trusted on first use" in first.report()
    assert "VERIFIED" in first.report()
    assert state.exists()

    await log_entries(runtime, 11)
    await sequence(runtime)
    pinned = verifier_key_string(DEFAULT_ORIGIN, log_key(runtime).public_key())
    second = await verify(state_path=state, verifier_key=pinned)
    assert second.ok, second.report()
    assert second.checkpoint is not None
    # 23 + 11 entries, and the first run's reads of the entries (4 pages), each logged.
    assert second.checkpoint.size == 23 + 11 + 4
    assert second.entries == second.checkpoint.size
    assert "consistency with the earlier checkpoint of size 23" in second.report()
    assert "(pinned)" in second.report()

    # A key that did not sign the checkpoint: nothing else is even looked at.
    stranger = verifier_key_string(
        DEFAULT_ORIGIN, ed25519.Ed25519PrivateKey.generate().public_key()
    )
    refused = await verify(state_path=None, verifier_key=stranger)
    assert not refused.ok
    assert "does not verify" in refused.report()


async def _superuser(db_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(db_url)
    # Replica mode skips ordinary triggers: the append-only guards, as an operator with
    # full control of the database could.
    await conn.execute("SET session_replication_role = replica")
    return conn


async def _alter(conn: asyncpg.Connection, index: int, *, rehash: bool) -> None:
    row = await conn.fetchrow(
        "SELECT a.id, a.entry FROM log_leaves l JOIN access_log a ON a.id = l.entry_id"
        " WHERE l.idx = $1",
        index,
    )
    forged = row["entry"].replace(b'"refund_decision"', b'"account_review"')
    assert forged != row["entry"]
    await conn.execute("UPDATE access_log SET entry = $2 WHERE id = $1", row["id"], forged)
    if rehash:  # a careful forger keeps the listed hashes in line with the bytes
        digest = merkle.leaf_hash(forged)
        await conn.execute("UPDATE access_log SET leaf_hash = $2 WHERE id = $1", row["id"], digest)
        await conn.execute("UPDATE log_leaves SET leaf_hash = $2 WHERE idx = $1", index, digest)


async def _delete(conn: asyncpg.Connection, index: int, *, renumber: bool) -> None:
    entry_id = await conn.fetchval("SELECT entry_id FROM log_leaves WHERE idx = $1", index)
    await conn.execute("DELETE FROM log_leaves WHERE idx = $1", index)
    await conn.execute("DELETE FROM access_log WHERE id = $1", entry_id)
    if renumber:  # close the gap, so the listing looks contiguous
        await conn.execute("UPDATE log_leaves SET idx = -idx WHERE idx > $1", index)
        await conn.execute("UPDATE log_leaves SET idx = -idx - 1 WHERE idx < 0")


async def _swap(conn: asyncpg.Connection, i: int, j: int) -> None:
    await conn.execute("UPDATE log_leaves SET idx = -1 WHERE idx = $1", i)
    await conn.execute("UPDATE log_leaves SET idx = $1 WHERE idx = $2", i, j)
    await conn.execute("UPDATE log_leaves SET idx = $1 WHERE idx = -1", j)


TAMPERING: dict[str, tuple[Callable[[asyncpg.Connection], Awaitable[None]], int, str]] = {
    "alter the bytes only": (lambda c: _alter(c, 13, rehash=False), 13, "leaf_hash is not"),
    "alter and rehash": (lambda c: _alter(c, 13, rehash=True), 13, "altered, removed or"),
    "delete": (lambda c: _delete(c, 17, renumber=False), 17, "is missing"),
    "delete and renumber": (lambda c: _delete(c, 17, renumber=True), 17, "altered, removed or"),
    "swap two": (lambda c: _swap(c, 5, 21), 5, "altered, removed or reordered"),
    "drop the tail": (
        lambda c: c.execute("DELETE FROM log_leaves WHERE idx >= 38"),
        38,
        "serves only 38 of the 40",
    ),
}


@pytest.mark.parametrize("how", list(TAMPERING))
async def test_verify_names_the_first_entry_that_was_tampered_with(
    app: Litestar,
    make_principal: MakePrincipal,
    runtime: Runtime,
    db_url: str,
    tmp_path: Path,
    how: str,
) -> None:
    auditor = await make_principal("auditor")
    verify = averify_for(app, auditor)
    state = tmp_path / "state.json"
    for count in (12, 16, 12):
        await log_entries(runtime, count)
    await sequence(runtime)
    assert (await verify(state_path=state)).ok

    tamper, index, says = TAMPERING[how]
    conn = await _superuser(db_url)
    try:
        await tamper(conn)
    finally:
        await conn.close()

    verdict = await verify(state_path=state, page_size=9)
    assert not verdict.ok
    assert verdict.first_bad_index == index, verdict.report()
    report = verdict.report()
    assert f"the first wrong entry is index {index}" in report
    assert says in report
    # A failed run leaves the remembered checkpoint alone.
    assert '"size": 40' in state.read_text()


async def test_verify_reports_a_checkpoint_inconsistent_with_the_remembered_one(
    app: Litestar, make_principal: MakePrincipal, runtime: Runtime, db_url: str, tmp_path: Path
) -> None:
    auditor = await make_principal("auditor")
    verify = averify_for(app, auditor)
    state = tmp_path / "state.json"
    await log_entries(runtime, 10)
    await sequence(runtime)
    assert (await verify(state_path=state)).ok
    await log_entries(runtime, 5)
    # Sequenced, but left for the operator to "checkpoint" with a history of its own.
    await sequence_once(runtime.pool, log_key(runtime), checkpoint_interval=3600)
    forged_root = merkle.leaf_hash(b"another history")
    note = sign_checkpoint(DEFAULT_ORIGIN, 15, forged_root, DEFAULT_ORIGIN, log_key(runtime))
    conn = await _superuser(db_url)
    try:
        await conn.execute(
            "INSERT INTO checkpoints (size, root, note, at) VALUES (15, $1, $2, now())",
            forged_root,
            note,
        )
    finally:
        await conn.close()

    verdict = await verify(state_path=state)
    assert not verdict.ok
    assert verdict.checkpoint is not None
    assert verdict.checkpoint.root == forged_root  # correctly signed, yet ...
    assert "is NOT CONSISTENT with the earlier checkpoint of size 10" in verdict.report()


def test_the_command_line_needs_credentials_and_fails_on_an_unreachable_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("REGISTRY_AUDIT_PRINCIPAL", "REGISTRY_AUDIT_KID", "REGISTRY_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert audit_verify.main(["--url", "http://127.0.0.1:9"]) == 2
    assert "auditor credentials are needed" in capsys.readouterr().err

    key_file = tmp_path / "auditor.pem"
    key_file.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv("REGISTRY_AUDIT_KEY_FILE", str(key_file))
    code = audit_verify.main(["--url", "http://127.0.0.1:9", "--principal", "p_x", "--kid", "k_x"])
    assert code == 1
    out = capsys.readouterr().out
    assert "could not be reached" in out
    assert "FAILED" in out
