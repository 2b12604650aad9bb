"""Every refusal of the signed-request checks of docs/contract.md, each with its own code."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from refund_registry.services import principals
from tests.support.api import Api, assert_problem, serving
from tests.support.principals import AUDIENCE, MakePrincipal
from tests.support.tokens import WHOAMI, claims_for, token

PATH = WHOAMI


async def whoami(api: Api, bearer: str, path: str = PATH) -> Any:
    return await api.client.get(path, headers={"Authorization": f"Bearer {bearer}"})


async def test_a_good_signed_request_is_accepted(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal("member")
    response = await api.call(member, "GET", PATH)
    assert response.status_code == 200, response.text
    assert response.json() == {"principal": member.principal_id, "role": "member"}


async def test_es256_keys_work_too(api: Api, runtime: Runtime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    added = await principals.add_principal(runtime.pool, name="p256 shop", role="member", pem=pem)
    assert added["alg"] == "ES256"
    signer = Signer(added["id"], added["kid"], key, audience=AUDIENCE)
    assert (await api.call(signer, "GET", PATH)).status_code == 200


async def test_missing_or_non_bearer_authorization(api: Api) -> None:
    assert_problem(await api.client.get(PATH), 401, "auth.missing")
    response = await api.client.get(PATH, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert_problem(response, 401, "auth.missing")


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "x.y", "....."])
async def test_malformed_tokens(api: Api, garbage: str) -> None:
    assert_problem(await whoami(api, garbage), 401, "auth.malformed")


async def test_wrong_typ(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    bad = token(member, header={"typ": "JWT"})
    assert_problem(await whoami(api, bad), 401, "auth.wrong_type")


async def test_alg_none_is_refused(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    header = {"alg": "none", "typ": "rr-req+jwt", "kid": member.kid}

    def seg(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    unsigned = f"{seg(header)}.{seg(claims_for(member))}."
    assert_problem(await whoami(api, unsigned), 401, "auth.alg_not_allowed")


async def test_hmac_with_the_public_key_is_refused(api: Api, make_principal: MakePrincipal) -> None:
    """The classic algorithm-confusion attack: HS256 keyed with the public key bytes."""
    member = await make_principal()
    public_pem = member.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT itself refuses to HMAC with a PEM key, so the token is built by hand.
    forged = _hs256(public_pem, claims_for(member), member.kid)
    assert_problem(await whoami(api, forged), 401, "auth.alg_not_allowed")


def _hs256(secret: bytes, claims: dict[str, Any], kid: str) -> str:
    import hashlib
    import hmac

    def seg(obj: dict[str, Any]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=")

    signing_input = seg({"alg": "HS256", "typ": "rr-req+jwt", "kid": kid}) + b"." + seg(claims)
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


async def test_alg_other_than_the_pinned_one(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    other = ec.generate_private_key(ec.SECP256R1())
    bad = jwt.encode(
        claims_for(member), other, "ES256", headers={"typ": "rr-req+jwt", "kid": member.kid}
    )
    assert_problem(await whoami(api, bad), 401, "auth.alg_mismatch")


async def test_unknown_kid(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    bad = token(member, header={"kid": "no-such-key"})
    assert_problem(await whoami(api, bad), 401, "auth.unknown_key")


async def test_kid_of_another_principal(api: Api, make_principal: MakePrincipal) -> None:
    alice, bob = await make_principal(), await make_principal()
    # Bob signs with his own key but claims to be Alice.
    bad = token(bob, iss=alice.principal_id)
    assert_problem(await whoami(api, bad), 401, "auth.key_mismatch")


async def test_bad_signature(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    impostor = Signer(
        member.principal_id, member.kid, ed25519.Ed25519PrivateKey.generate(), audience=AUDIENCE
    )
    assert_problem(await whoami(api, token(impostor)), 401, "auth.bad_signature")


async def test_wrong_audience(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    assert_problem(await whoami(api, token(member, aud="someone-else")), 401, "auth.audience")


async def test_expired(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    now = int(time.time())
    bad = token(member, iat=now - 200, exp=now - 100)
    assert_problem(await whoami(api, bad), 401, "auth.expired")


async def test_issued_in_the_future(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    now = int(time.time())
    bad = token(member, iat=now + 300, exp=now + 360)
    assert_problem(await whoami(api, bad), 401, "auth.not_yet_valid")


async def test_small_clock_skew_is_tolerated(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    now = int(time.time())
    skewed = token(member, iat=now + 10, exp=now + 70)
    assert (await whoami(api, skewed)).status_code == 200


async def test_lifetime_over_120_seconds(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    now = int(time.time())
    bad = token(member, iat=now, exp=now + 121)
    assert_problem(await whoami(api, bad), 401, "auth.lifetime")


@pytest.mark.parametrize("claim", ["jti", "iat", "exp", "aud", "htm", "htu", "bsh"])
async def test_missing_claims(api: Api, make_principal: MakePrincipal, claim: str) -> None:
    member = await make_principal()
    bad = token(member, **{claim: None})
    assert_problem(await whoami(api, bad), 401, "auth.missing_claim")


async def test_method_mismatch(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    assert_problem(await whoami(api, token(member, htm="POST")), 401, "auth.method_mismatch")


async def test_path_mismatch(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    assert_problem(await whoami(api, token(member, htu="/v1/reports")), 401, "auth.path_mismatch")
    # The query string is part of htu.
    signed_for_plain = token(member)
    response = await whoami(api, signed_for_plain, path=PATH + "?x=1")
    assert_problem(response, 401, "auth.path_mismatch")


async def test_body_mismatch(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    response = await api.client.request(
        "GET",
        PATH,
        content=b'{"sneaky": true}',
        headers={"Authorization": f"Bearer {token(member)}"},
    )
    assert_problem(response, 401, "auth.body_mismatch")


async def test_replayed_token(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    once = token(member)
    assert (await whoami(api, once)).status_code == 200
    assert_problem(await whoami(api, once), 401, "auth.replayed")


async def test_replay_is_refused_by_another_process_sharing_redis(
    api: Api, make_principal: MakePrincipal, settings: Settings
) -> None:
    """A second, independent runtime (its own pools, caches, memory) stands in for a
    second server process: only Redis is shared."""
    member = await make_principal()
    once = token(member)
    assert (await whoami(api, once)).status_code == 200
    async with serving(settings) as second:
        response = await second.get(PATH, headers={"Authorization": f"Bearer {once}"})
        assert_problem(response, 401, "auth.replayed")


async def test_revoked_key_then_rotation(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    new_key = ed25519.Ed25519PrivateKey.generate()
    pem = new_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    added = await principals.add_key(runtime.pool, principal_id=member.principal_id, pem=pem)
    rotated = Signer(member.principal_id, added["kid"], new_key, audience=AUDIENCE)
    # Both keys verify during the rotation.
    assert (await api.call(member, "GET", PATH)).status_code == 200
    assert (await api.call(rotated, "GET", PATH)).status_code == 200
    await principals.revoke(runtime.pool, kid=member.kid)
    runtime.keys.clear()  # the NOTIFY does this too; do not race it in a test
    assert_problem(await api.call(member, "GET", PATH), 401, "auth.key_revoked")
    assert (await api.call(rotated, "GET", PATH)).status_code == 200


async def test_notify_clears_key_caches(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    import asyncio

    member = await make_principal()
    assert (await api.call(member, "GET", PATH)).status_code == 200
    await principals.set_status(runtime.pool, member.principal_id, "suspended")
    for _ in range(100):  # the notification arrives within milliseconds
        response = await api.call(member, "GET", PATH)
        if response.status_code == 401:
            break
        await asyncio.sleep(0.02)
    assert_problem(response, 401, "auth.principal_inactive")


async def test_revoked_principal(api: Api, make_principal: MakePrincipal, runtime: Runtime) -> None:
    member = await make_principal()
    await principals.revoke(runtime.pool, principal_id=member.principal_id)
    runtime.keys.clear()
    assert_problem(await api.call(member, "GET", PATH), 401, "auth.principal_inactive")


@pytest.mark.parametrize("role", ["member", "adjudicator", "auditor"])
async def test_wrong_role_is_403(api: Api, make_principal: MakePrincipal, role: str) -> None:
    caller = await make_principal(role)
    assert_problem(
        await api.call(caller, "GET", "/v1/admin/principals"), 403, "auth.forbidden_role"
    )


async def test_admin_role_may_list_principals(api: Api, make_principal: MakePrincipal) -> None:
    admin = await make_principal("admin")
    response = await api.call(admin, "GET", "/v1/admin/principals")
    assert response.status_code == 200
    assert admin.principal_id in {p["id"] for p in response.json()["principals"]}


async def test_subject_token_is_not_a_request_token(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    subject = member.subject_token([{"kind": "phone", "value": "x" * 86}])
    assert_problem(await whoami(api, subject), 401, "auth.wrong_type")


async def test_non_canonical_base64_token_is_refused(
    api: Api, make_principal: MakePrincipal
) -> None:
    """Setting a spare bit in the signature's last character must not give a second valid token."""
    member = await make_principal()
    good = token(member)
    head, payload, sig = good.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 64-byte signature -> 86 characters; the last one carries 2 spare bits.
    twisted = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    assert_problem(await whoami(api, f"{head}.{payload}.{twisted}"), 401, "auth.malformed")
    assert (await whoami(api, good)).status_code == 200
