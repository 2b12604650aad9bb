"""The token audience is the registry's public URL; the old shared constant is refused by name."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.client import RegistryClient
from refund_registry.client.signing import Signer
from refund_registry.config import ConfigError, Settings
from refund_registry.domain.tokens import LEGACY_AUDIENCE
from tests.support.api import Api, assert_problem
from tests.support.principals import AUDIENCE, MakePrincipal
from tests.support.tokens import WHOAMI


def test_the_audience_defaults_to_the_public_url() -> None:
    env = {"REGISTRY_PUBLIC_URL": "https://registry.example/"}
    assert Settings.from_env(env).audience == "https://registry.example"
    assert Settings().audience == AUDIENCE
    assert Settings.from_env({**env, "REGISTRY_AUDIENCE": "urn:x"}).audience == "urn:x"
    moved = Settings().with_overrides(public_url="http://127.0.0.1:9999")
    assert moved.audience == "http://127.0.0.1:9999"  # `serve --port` moves both
    pinned = Settings.from_env({**env, "REGISTRY_AUDIENCE": "urn:x"})
    assert pinned.with_overrides(public_url="https://elsewhere.example").audience == "urn:x"


def test_production_names_its_public_url() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REGISTRY_ENVIRONMENT": "production"})
    assert any("REGISTRY_PUBLIC_URL is required" in p for p in caught.value.problems)


async def test_a_token_with_the_old_shared_audience_is_refused_with_its_own_code(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    legacy = dataclasses.replace(member, audience=LEGACY_AUDIENCE)
    doc = assert_problem(await api.call(legacy, "GET", WHOAMI), 401, "auth.audience_legacy")
    assert AUDIENCE in doc["detail"]
    # A token for another deployment is refused as well, with the plain code.
    other = dataclasses.replace(member, audience="https://other-registry.example")
    assert_problem(await api.call(other, "GET", WHOAMI), 401, "auth.audience")
    assert (await api.call(member, "GET", WHOAMI)).status_code == 200


def test_a_signer_without_audience_signs_nothing_and_the_client_gives_it_the_url() -> None:
    bare = Signer("mbr_0000000000000001", "kid", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(ValueError, match="public URL"):
        bare.request_token("GET", WHOAMI)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"principal": "mbr_0000000000000001", "role": "member"})

    with RegistryClient(
        "https://registry.example/", bare, transport=httpx.MockTransport(handler)
    ) as client:
        assert client.signer.audience == "https://registry.example"
    assert bare.for_registry("https://x.example").audience == "https://x.example"
    pinned = dataclasses.replace(bare, audience="urn:set")
    assert pinned.for_registry("https://x.example").audience == "urn:set"
