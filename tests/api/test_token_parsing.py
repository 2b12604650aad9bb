"""Token parsing holds against hostile shapes: deep nesting, signature malleability.

A token is decoded into typed structs before anything is trusted: a claim
nested beyond what its type allows, or an unknown claim nested thousands deep,
is a 401 problem document, never a RecursionError and a 500. ES256 signatures
are accepted only in their low-s form, so a third party cannot turn one signed
request into a second token string (with a second digest in the access log).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from refund_registry.client.signing import Signer
from refund_registry.domain import tokens
from refund_registry.runtime import Runtime
from refund_registry.services import principals
from tests.support.api import Api, assert_problem
from tests.support.principals import AUDIENCE, MakePrincipal
from tests.support.tokens import WHOAMI, claims_for

N = tokens.P256_ORDER


def seg(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unseg(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def whoami(api: Api, bearer: str) -> Any:
    return await api.client.get(WHOAMI, headers={"Authorization": f"Bearer {bearer}"})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("where", ["unknown_claim", "aud", "header"])
async def test_deeply_nested_token_is_a_401_not_a_500(
    api: Api, make_principal: MakePrincipal, where: str
) -> None:
    member = await make_principal()
    claims = json.dumps(claims_for(member))
    header = json.dumps({"alg": "EdDSA", "typ": "rr-req+jwt", "kid": member.kid})
    if where == "unknown_claim":
        claims = claims[:-1] + f', "x": {nested(2500)}}}'
    elif where == "aud":
        claims = claims.replace(f'"aud": "{member.audience}"', f'"aud": {nested(2500)}')
    else:
        header = header[:-1] + f', "jwk": {nested(2500)}}}'
    token = f"{seg(header.encode())}.{seg(claims.encode())}.{seg(bytes(64))}"
    assert len(token) <= 8192
    response = await whoami(api, token)
    doc = assert_problem(response, 401, "auth.malformed")
    assert "Recursion" not in response.text
    assert "Traceback" not in response.text
    assert doc["code"] == "auth.malformed"


def test_every_claim_is_typed_and_nesting_is_bounded() -> None:
    member_kid = "k" * 43
    header = seg(json.dumps({"alg": "EdDSA", "typ": "rr-req+jwt", "kid": member_kid}).encode())
    for bad in (
        {"iss": "mbr_1", "iat": 1.5},
        {"iss": "mbr_1", "exp": "1767225600"},
        {"iss": "mbr_1", "jti": 12345678},
        {"iss": "mbr_1", "aud": [["refund-registry"]]},
        {"iss": "mbr_1", "pseudonyms": [[{"kind": "phone", "value": "x"}]]},
        {"iss": "mbr_1", "htu": {"path": "/v1/whoami"}},
    ):
        token = f"{header}.{seg(json.dumps(bad).encode())}.{seg(bytes(64))}"
        with pytest.raises(tokens.AuthenticationFailed) as caught:
            tokens.peek(token, tokens.REQUEST_TYP)
        assert caught.value.code == "auth.malformed", bad


async def _p256_member(runtime: Runtime) -> tuple[Signer, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    added = await principals.add_principal(runtime.pool, name="p256 shop", role="member", pem=pem)
    return Signer(added["id"], added["kid"], key, audience=AUDIENCE), key


def _twin(token: str) -> str:
    """The same signed request with the other valid signature, (r, n - s)."""
    head, _, signature = token.rpartition(".")
    raw = unseg(signature)
    s = int.from_bytes(raw[32:], "big")
    return f"{head}.{seg(raw[:32] + (N - s).to_bytes(32, 'big'))}"


def _s_of(token: str) -> int:
    return int.from_bytes(unseg(token.rpartition(".")[2])[32:], "big")


async def test_high_s_es256_is_refused_and_its_low_s_twin_accepted(
    api: Api, runtime: Runtime
) -> None:
    signer, key = await _p256_member(runtime)
    low = signer.request_token("GET", WHOAMI)  # the SDK normalises to low s
    assert _s_of(low) <= N // 2
    high = _twin(low)
    assert _s_of(high) > N // 2
    # Both verify as ECDSA: the twin is a genuine second signature of the same input.
    signing_input = high.rpartition(".")[0].encode()
    raw = unseg(high.rpartition(".")[2])
    key.public_key().verify(
        utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), _s_of(high)),
        signing_input,
        ec.ECDSA(hashes.SHA256()),
    )
    assert_problem(await whoami(api, high), 401, "auth.high_s_signature")
    # The refusal did not burn the jti: the low-s token of the same request still works.
    response = await whoami(api, low)
    assert response.status_code == 200, response.text


async def test_a_hand_made_high_s_token_is_refused(api: Api, runtime: Runtime) -> None:
    signer, key = await _p256_member(runtime)
    for _ in range(64):  # half of all ECDSA signatures are high-s
        made = jwt.encode(
            claims_for(signer), key, "ES256", headers={"typ": "rr-req+jwt", "kid": signer.kid}
        )
        if _s_of(made) > N // 2:
            break
    else:  # pragma: no cover - probability 2**-64
        pytest.fail("no high-s signature in 64 tries")
    assert_problem(await whoami(api, made), 401, "auth.high_s_signature")
    assert (await whoami(api, _twin(made))).status_code == 200


def test_the_sdk_signs_low_s_only() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = Signer("mbr_0123456789abcdef", "kid", key, audience=AUDIENCE, clock=time.time)
    public = key.public_key()
    for i in range(400):
        token = (
            signer.request_token("POST", f"/v1/risk/query?i={i}", b"{}")
            if i % 2
            else signer.subject_token([{"kind": "phone", "value": "x" * 86}])
        )
        s = _s_of(token)
        assert 0 < s <= N // 2
        raw = unseg(token.rpartition(".")[2])
        public.verify(
            utils.encode_dss_signature(int.from_bytes(raw[:32], "big"), s),
            token.rpartition(".")[0].encode(),
            ec.ECDSA(hashes.SHA256()),
        )


def test_the_signing_digest_ignores_the_signature_spelling() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = Signer("mbr_0123456789abcdef", "kid", key, audience=AUDIENCE)
    token = signer.request_token("GET", WHOAMI)
    head = tokens.peek(token, tokens.REQUEST_TYP)
    verified = tokens.verify(
        token,
        head=head,
        key_principal=signer.principal_id,
        key_alg="ES256",
        key=key.public_key(),
        audience=AUDIENCE,
        now=time.time(),
        leeway=30,
        max_lifetime=tokens.REQUEST_MAX_LIFETIME,
        required=("htm", "htu", "bsh"),
    )
    assert verified.signing_digest == tokens.body_digest(token.rpartition(".")[0].encode())
