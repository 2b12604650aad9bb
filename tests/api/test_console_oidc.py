"""Staff sign-in with OpenID Connect, end to end against a real provider on 127.0.0.1:
authorization code with PKCE, state bound to the browser, nonce checked, the provider's
account mapped to a principal; unmapped and revoked accounts refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from refund_registry.services import principals
from tests.support.api import asgi_client
from tests.support.oidc import Provider, running_provider
from tests.support.principals import MakePrincipal


@pytest.fixture
def provider() -> Iterator[Provider]:
    with running_provider() as started:
        yield started


@pytest.fixture
async def console(
    settings: Settings, runtime: Runtime, provider: Provider
) -> AsyncIterator[httpx.AsyncClient]:
    """The registry, configured with the provider and a client registered at it."""
    public = "http://registry"
    client_id, secret = provider.register(f"{public}/console/oidc/callback")
    configured = settings.with_overrides(
        public_url=public,
        oidc_issuer=provider.issuer,
        oidc_client_id=client_id,
        oidc_client_secret=secret,
    )
    runtime.settings = configured
    async with asgi_client(configured, runtime) as client:
        yield client


async def _to_provider(console: httpx.AsyncClient) -> str:
    started = await console.get("/console/oidc/start")
    assert started.status_code == 303, started.text
    return started.headers["location"]


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_mapped_adjudicator_signs_in_with_pkce_state_and_nonce(
    console: httpx.AsyncClient, provider: Provider, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    adjudicator = await make_principal("adjudicator")
    await runtime.parts.staff.map_subject(provider.issuer, "judge.li", adjudicator.principal_id)
    authorization = await _to_provider(console)
    asked = parse_qs(urlsplit(authorization).query)
    assert authorization.startswith(provider.issuer + "/")
    assert asked["response_type"] == ["code"]
    assert asked["code_challenge_method"] == ["S256"]
    assert len(asked["code_challenge"][0]) == 43
    assert asked["nonce"]
    assert asked["state"]
    assert asked["redirect_uri"] == ["http://registry/console/oidc/callback"]
    back = provider.authorize(authorization, "judge.li")
    done = await console.get(_local(back))
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/"
    assert console.cookies.get("rr_staff")
    home = await console.get("/console/")
    assert home.headers["location"] == "/console/queue"
    assert (await console.get("/console/queue")).status_code == 200
    method = await runtime.pool.fetchval("SELECT method FROM staff_sessions")
    assert method == "oidc"
    # The round trip is used up: the same callback again opens nothing.
    console.cookies.delete("rr_staff")
    again = await console.get(_local(back))
    assert again.status_code == 401
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 1


async def test_an_unmapped_account_is_refused(
    console: httpx.AsyncClient, provider: Provider, runtime: Runtime
) -> None:
    back = provider.authorize(await _to_provider(console), "stranger")
    refused = await console.get(_local(back))
    assert refused.status_code == 403
    assert 'id="signin-error"' in refused.text
    assert "rr_staff" not in console.cookies
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 0


async def test_a_revoked_principal_is_refused(
    console: httpx.AsyncClient, provider: Provider, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal("member")
    await runtime.parts.staff.map_subject(provider.issuer, "shop.staff", member.principal_id)
    await principals.revoke(runtime.pool, principal_id=member.principal_id, kid=None)
    back = provider.authorize(await _to_provider(console), "shop.staff")
    refused = await console.get(_local(back))
    assert refused.status_code == 403
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 0


async def test_a_callback_in_another_browser_opens_nothing(
    console: httpx.AsyncClient,
    provider: Provider,
    runtime: Runtime,
    make_principal: MakePrincipal,
    settings: Settings,
) -> None:
    member = await make_principal("member")
    await runtime.parts.staff.map_subject(provider.issuer, "shop.staff", member.principal_id)
    back = provider.authorize(await _to_provider(console), "shop.staff")
    async with asgi_client(runtime.settings, runtime) as other:
        stolen = await other.get(_local(back))
    assert stolen.status_code == 401
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 0


async def test_an_id_token_with_another_nonce_is_refused(
    console: httpx.AsyncClient, provider: Provider, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal("member")
    await runtime.parts.staff.map_subject(provider.issuer, "shop.staff", member.principal_id)
    back = provider.authorize(await _to_provider(console), "shop.staff")
    await runtime.pool.execute("UPDATE staff_oidc_logins SET nonce = repeat('x', 32)")
    refused = await console.get(_local(back))
    assert refused.status_code == 401
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 0


async def test_without_a_provider_the_console_offers_links_only(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/console/signin")
    assert 'id="oidc-signin"' not in page.text
    assert (await client.get("/console/oidc/start")).status_code == 404
