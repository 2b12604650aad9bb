"""Staff sign-in with the organisation's OpenID Connect provider: authorization code + PKCE.

``authlib`` is the client: it reads the provider's metadata
(``<issuer>/.well-known/openid-configuration``), builds the authorization
URL with ``state``, ``nonce`` and an S256 code challenge, exchanges the code
(with the verifier, and the client secret when one is set), and checks the
ID token: its signature against the provider's JWKS, ``iss``, ``aud``,
``exp`` and the ``nonce``.

What the round trip carries is kept in PostgreSQL (``staff_oidc_logins``),
found by ``state`` and used once; it is bound to the browser that started
it by the SHA-256 of a random value in that browser's ``rr_staff_oidc``
cookie, so a callback URL replayed in another browser opens nothing. The
provider's account (``iss``, ``sub``) must be mapped to a principal
(``refund-registry console map-oidc``); an unmapped account, or one mapped to
a suspended or revoked principal, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Annotated, Any, Final

from authlib.common.security import generate_token
from authlib.integrations.base_client import BaseApp, FrameworkIntegration, OAuthError
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc.errors import JoseError
from litestar import Request, Response, get
from litestar.params import Parameter, QueryParameter

from refund_registry import errors
from refund_registry.config import Settings
from refund_registry.web.console.guard import (
    CONSOLE,
    PATH,
    console_page,
    error_page,
    refusal,
)
from refund_registry.web.console.signin import signed_in
from refund_registry.web.pages import runtime_of, see_other
from refund_registry.web.render import secure
from refund_registry.web.security import cookie, removed

log = logging.getLogger("refund_registry.web.console.oidc")

BINDING_COOKIE: Final = "rr_staff_oidc"
CALLBACK: Final = PATH + "/oidc/callback"
ROUND_TRIP_SECONDS: Final = 600


class _Provider(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):  # type: ignore[misc]
    """authlib's OpenID Connect client, without a web framework's session: the round
    trip's values are stored by the console itself."""

    client_cls = AsyncOAuth2Client


def provider(settings: Settings) -> _Provider:
    """The client for the configured provider (PKCE S256; the secret when one is set)."""
    issuer = settings.oidc_issuer.rstrip("/")
    return _Provider(
        FrameworkIntegration("refund_registry"),
        name="staff",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": settings.oidc_scopes,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": (
                "client_secret_basic" if settings.oidc_client_secret else "none"
            ),
            "timeout": 10.0,
        },
    )


def _provider_of(request: Request[Any, Any, Any]) -> _Provider:
    """One client per application (it caches the provider's metadata and keys)."""
    state = request.app.state
    client: _Provider | None = state.get("console_oidc")
    if client is None:
        client = provider(runtime_of(request).settings)
        state.console_oidc = client
    return client


def _binding(value: str) -> bytes:
    return hashlib.sha256(b"rr-staff-oidc/v1|" + value.encode()).digest()


def _redirect_uri(settings: Settings) -> str:
    return settings.public_url.rstrip("/") + CALLBACK


def _failed(request: Request[Any, Any, Any], why: str) -> Response[Any]:
    log.warning("organisation sign-in refused", extra={"reason": why})
    response = error_page(request, 401, refusal(request, "console.oidc_failed"))
    response.cookies.append(removed(BINDING_COOKIE, secure=secure(request), path=PATH))
    return response


@get("/oidc/start")
async def start(request: Request[Any, Any, Any]) -> Response[Any]:
    """Send the browser to the provider, remembering state, nonce and verifier."""
    settings = runtime_of(request).settings
    if not settings.oidc_issuer:
        return error_page(request, 404, refusal(request, "console.oidc_disabled"))
    client = _provider_of(request)
    try:
        metadata = await client.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != settings.oidc_issuer.rstrip("/"):
            return _failed(request, "the provider's metadata names another issuer")
        made = await client.create_authorization_url(
            _redirect_uri(settings),
            state=generate_token(32),
            nonce=generate_token(32),
            code_verifier=generate_token(64),
        )
    except (OAuthError, OSError, ValueError, KeyError, RuntimeError) as exc:
        log.warning("the identity provider cannot be reached", extra={"error": repr(exc)})
        return error_page(request, 503, refusal(request, "registry.unavailable"))
    binding = secrets.token_urlsafe(32)
    await runtime_of(request).parts.staff.remember_login(
        state=made["state"],
        binding=_binding(binding),
        nonce=made["nonce"],
        code_verifier=made["code_verifier"],
    )
    response = see_other(
        made["url"],
        cookies=[
            cookie(
                BINDING_COOKIE, binding, secure=secure(request), max_age=ROUND_TRIP_SECONDS,
                path=PATH,
            )
        ],
    )  # fmt: skip
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@get("/oidc/callback")
async def callback(
    request: Request[Any, Any, Any],
    code: Annotated[str | None, Parameter(max_length=2000)] = None,
    round_trip: Annotated[str | None, QueryParameter(name="state", max_length=200)] = None,
    error: Annotated[str | None, Parameter(max_length=200)] = None,
) -> Response[Any]:
    """Back from the provider: check the round trip, the code and the ID token; sign in."""
    rt = runtime_of(request)
    pending = await rt.parts.staff.take_login(round_trip) if round_trip else None
    if pending is None:
        return _failed(request, "unknown, used or expired state")
    held = request.cookies.get(BINDING_COOKIE) or ""
    if not hmac.compare_digest(_binding(held), pending.binding):
        return _failed(request, "the round trip was started in another browser")
    if error or not code:
        return _failed(request, f"the provider answered {error or 'no code'}")
    client = _provider_of(request)
    redirect_uri = _redirect_uri(rt.settings)
    try:
        token = await client.fetch_access_token(
            redirect_uri, code=code, code_verifier=pending.code_verifier
        )
        claims = await client.parse_id_token(token, nonce=pending.nonce)
    except (OAuthError, JoseError, OSError, ValueError, KeyError, RuntimeError) as exc:
        return _failed(request, f"code exchange or ID token refused: {exc!r}")
    if claims is None or not claims.get("sub") or not claims.get("iss"):
        return _failed(request, "no ID token")
    try:
        opened = await rt.parts.staff.open_for_subject(str(claims["iss"]), str(claims["sub"]))
    except errors.Forbidden as exc:
        refused = console_page(
            request, "signin.html", None, status=403, error=refusal(request, exc),
            notice=None, oidc=True,
        )  # fmt: skip
        refused.cookies.append(removed(BINDING_COOKIE, secure=secure(request), path=PATH))
        return refused
    response = signed_in(request, opened)
    response.cookies.append(removed(BINDING_COOKIE, secure=secure(request), path=PATH))
    return response


PAGES: Final = [start, callback]
__all__ = ["CONSOLE", "PAGES"]
