"""What keeps the portal's pages safe: headers, cookies and form tokens.

**Headers.** Every portal response, error pages and redirects included,
carries a strict Content Security Policy (scripts only from the portal
itself, never inline), ``nosniff``, no referrer, and ``no-store`` for every
page (pages hold personal data; only the static assets may be cached).

**Cookies.** The buyer's session (``rr_buyer``) and the form key
(``rr_csrf``) are HttpOnly, SameSite=Lax, limited to ``/portal``, and
``Secure`` whenever the registry's public URL is https. The staff console
(``/console``) is another :class:`Area` with cookies of its own names,
limited to its own path: a buyer's cookies never reach the console, nor a
staff member's the portal.

**Forms.** Every form carries a token that only a page of this portal can
know: an HMAC keyed with the browser's own ``rr_csrf`` cookie over the buyer's
session value (empty before sign-in). Another site can neither read the
cookie nor the session, so it cannot write the token; and a token shown
before sign-in is useless after it, so a form key planted before the buyer
signs in gives nothing once they have. A POST without the right token is
refused with a page that says what happened (403), before the form's fields
are looked at; so is one the browser says came from another site.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from litestar.datastructures import Cookie
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from refund_registry.domain.wire import b64url

SESSION_COOKIE: Final = "rr_buyer"
FORM_COOKIE: Final = "rr_csrf"
SIGNIN_COOKIE: Final = "rr_signin"
FORM_FIELD: Final = "csrf_token"
PATH: Final = "/portal"
STATIC_PATH: Final = "/portal/static"


@dataclass(frozen=True, slots=True)
class Area:
    """A set of pages with its own path, cookies and templates (the portal, the console).

    Both share the machinery of this module: the headers, the form tokens,
    the cookie attributes; only names and the path differ.
    """

    path: str
    session_cookie: str
    form_cookie: str
    templates: str


PORTAL: Final = Area(
    path=PATH, session_cookie=SESSION_COOKIE, form_cookie=FORM_COOKIE, templates="portal"
)
STATIC_PATHS: Final = (STATIC_PATH + "/", "/console/static/")
"""Where the vendored assets are served (the only responses that may be cached)."""

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

_PAGE_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
_NO_STORE: Final = (b"cache-control", b"no-store")
_STATIC_CACHE: Final = (b"cache-control", b"public, max-age=3600")
_TOKEN_DOMAIN: Final = b"rr-portal-form/v1|"


def page_headers() -> dict[str, str]:
    """What :func:`secure_headers` adds to a page, for a response made outside its routers."""
    return {n.decode(): v.decode() for n, v in (*_PAGE_HEADERS, _NO_STORE)}


def secure_headers(app: ASGIApp) -> ASGIApp:
    """ASGI middleware of the portal's routers: the security headers on every response.

    Added at the start of the response, so they are there whatever produced
    it (a page, a redirect, an error page); a ``cache-control`` a handler set
    is replaced, because only static assets may ever be cached.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["type"]) != "http":
            await app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith(STATIC_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in _PAGE_HEADERS} | {b"cache-control"}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                extra = [*_PAGE_HEADERS, _STATIC_CACHE if static else _NO_STORE]
                message = {**message, "headers": [*kept, *extra]}
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def is_secure(public_url: str) -> bool:
    return urlsplit(public_url).scheme == "https"


def cookie(
    name: str,
    value: str,
    *,
    secure: bool,
    max_age: int | None = None,
    expires: int | None = None,
    path: str = PATH,
) -> Cookie:
    """A page cookie: HttpOnly, SameSite=Lax, limited to its area's path (``/portal``
    unless told), Secure over https."""
    return Cookie(
        key=name,
        value=value,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure,
        max_age=max_age,
        expires=expires,
    )


def removed(name: str, *, secure: bool, path: str = PATH) -> Cookie:
    """The instruction to forget a page cookie (of ``/portal`` unless told)."""
    return Cookie(
        key=name, value="", path=path, httponly=True, samesite="lax", secure=secure, max_age=0
    )


def new_form_key() -> str:
    return secrets.token_urlsafe(32)


def form_token(form_key: str, session: str | None) -> str:
    """The token a page puts in its forms: HMAC(form key, session value or empty)."""
    message = _TOKEN_DOMAIN + (session or "").encode()
    return b64url(hmac.new(form_key.encode(), message, hashlib.sha256).digest())


def token_matches(form_key: str | None, session: str | None, sent: str | None) -> bool:
    """Whether a posted token is the one this browser's pages carry (constant time)."""
    if not form_key or not sent:
        return False
    return hmac.compare_digest(form_token(form_key, session).encode(), sent.encode())


def same_origin(headers: Mapping[str, Any]) -> bool:
    """Whatever the browser says about where a POST comes from names this very site.

    ``Sec-Fetch-Site`` (sent by current browsers) must be ``same-origin`` (or
    ``none``: typed by the user); an ``Origin`` header must name this host.
    With ``Referrer-Policy: no-referrer`` a browser sends ``Origin: null``
    even for the site's own forms, so ``null`` proves nothing either way and
    the form token decides.
    """
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return True
    return urlsplit(str(origin)).netloc == str(headers.get("host", ""))
