"""Access-log entries record the token's ``iss`` and ``jti``; old and new entries both verify."""

from __future__ import annotations

import dataclasses

import httpx
import msgspec

from refund_registry.client import verify as audit_verify
from refund_registry.config import Settings
from refund_registry.domain import access
from refund_registry.domain.reports import b64url_decode
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import Api
from tests.support.factories import access_record, ident, pseudonym
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all

URL = "http://registry"


async def test_an_entry_names_the_tokens_issuer_jti_and_digest_and_both_versions_verify(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    app = create_app(settings, runtime_override=runtime)
    member = dataclasses.replace(await make_principal(), jti_factory=lambda: "jti-of-the-query")
    auditor = await make_principal("auditor")
    # An entry of an access with no token, written as every entry was before: version 1.
    await runtime.access_log.append_many([access_record("m_before")])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as client:
        api = Api(client)
        body = {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}
        answered = await api.call(member, "POST", "/v1/risk/query", body)
        assert answered.status_code == 200, answered.text
        receipt = answered.json()["receipt"]
        assert runtime.registry is not None
        await sequence_all(runtime.pool, runtime.registry.log_key)
        page = (await api.call(auditor, "GET", "/v1/audit/entries?limit=100")).json()

    by_hash = {item["leaf_hash"]: item for item in page["entries"]}
    logged = by_hash[receipt["leaf_hash"]]
    leaf = b64url_decode(logged["leaf"])
    assert leaf is not None
    fields = access.decode(leaf)
    assert fields["v"] == 2
    assert fields["iss"] == member.principal_id
    assert fields["jti"] == "jti-of-the-query"
    assert len(fields["request"]) == 43  # SHA-256 of the token's signing input, base64url
    old = next(item for item in page["entries"] if item["actor"] == "m_before")
    old_leaf = b64url_decode(old["leaf"])
    assert old_leaf is not None
    assert access.decode(old_leaf)["v"] == 1
    assert "jti" not in access.decode(old_leaf)

    verdict = await audit_verify.averify(
        URL,
        state_path=None,
        verifier_key=None,
        signer=auditor,
        transport=httpx.ASGITransport(app=app),
    )
    assert verdict.ok, verdict.report()
    assert verdict.entries >= 2


def test_an_unsigned_record_encodes_exactly_as_version_one() -> None:
    record = access_record("m_x")
    encoded = access.encode(record, [b"\0" * 16 for _ in record.subject_keys])
    fields = access.decode(encoded.entry)
    assert fields["v"] == 1
    assert not {"iss", "jti"} & fields.keys()
    signed = msgspec.structs.replace(record, jti="j1")
    again = access.decode(access.encode(signed, [b"\0" * 16 for _ in record.subject_keys]).entry)
    assert (again["v"], again["iss"], again["jti"]) == (2, "m_x", "j1")
