"""Signing in and out: a one-time code, or a member's single-use hand-off link."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Redirect

from refund_registry import errors
from refund_registry.i18n import TAGS
from refund_registry.web import views
from refund_registry.web.pages import (
    SIGNIN_SECONDS,
    current_time,
    error_page,
    form_field,
    identifier_of,
    remembered_identifier,
    runtime_of,
    see_other,
)
from refund_registry.web.render import language_of, page, refusal, secure
from refund_registry.web.security import (
    PATH,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    cookie,
    removed,
)

# -- sign in ---------------------------------------------------------------------------------


@get("/")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    return see_other(PATH + "/record" if request.cookies.get(SESSION_COOKIE) else PATH + "/signin")


@get("/signin")
async def signin_page(
    request: Request[Any, Any, Any],
    reason: Annotated[str | None, Parameter(max_length=40)] = None,
) -> Response[Any]:
    language = language_of(request)
    notice = None
    if reason == "expired":
        notice = refusal(language, "buyer.session_expired")
    elif reason == "signed_out":
        notice = language.gettext("You have signed out.")
    return page(request, "signin.html", notice=notice, identifier="")


@post("/signin")
async def send_code(request: Request[Any, Any, Any]) -> Response[Any]:
    """Send a one-time code to the phone or address typed; the same answer whether or not
    anything is on record under it."""
    form = await request.form()
    typed = form_field(form, "identifier", 320)
    kind, value = identifier_of(typed)
    language = language_of(request)
    client = request.client.host if request.client else ""
    try:
        if not value:
            raise errors.InvalidInput("empty identifier", code="identifier.invalid")
        await runtime_of(request).parts.buyers.send_code(
            kind, value, client, language=TAGS[language.locale]
        )
    except (errors.InvalidInput, errors.RateLimited) as exc:
        status = 429 if isinstance(exc, errors.RateLimited) else 422
        return page(
            request, "signin.html", status=status, error=refusal(language, exc), identifier=typed
        )
    remembered = cookie(
        SIGNIN_COOKIE, f"{kind}:{value}", secure=secure(request), max_age=SIGNIN_SECONDS
    )
    return see_other(PATH + "/signin/code", cookies=[remembered])


@get("/signin/code")
async def code_page(request: Request[Any, Any, Any]) -> Response[Any]:
    remembered = remembered_identifier(request)
    if remembered is None:
        return see_other(PATH + "/signin")
    kind, value = remembered
    return page(request, "code.html", sent_to=views.mask(kind, value), kind=kind)


@post("/signin/code")
async def enter_code(request: Request[Any, Any, Any]) -> Response[Any]:
    remembered = remembered_identifier(request)
    if remembered is None:
        return see_other(PATH + "/signin")
    kind, value = remembered
    form = await request.form()
    code = "".join(form_field(form, "code", 40).split())
    language = language_of(request)
    sent_to = views.mask(kind, value)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        error = refusal(language, "buyer.code_format")
        return page(request, "code.html", status=422, error=error, sent_to=sent_to, kind=kind)
    try:
        opened = await runtime_of(request).parts.buyers.open_with_code(kind, value, code)
    except (errors.AuthenticationFailed, errors.RateLimited) as exc:
        status = 429 if isinstance(exc, errors.RateLimited) else 422
        restart = exc.code in ("buyer.code_expired", "buyer.code_locked")
        return page(
            request,
            "code.html",
            status=status,
            error=refusal(language, exc),
            restart=restart,
            sent_to=sent_to,
            kind=kind,
        )
    return _signed_in(request, opened.session, opened.expires_at)


@post("/signin/resend")
async def resend_code(request: Request[Any, Any, Any]) -> Response[Any]:
    remembered = remembered_identifier(request)
    if remembered is None:
        return see_other(PATH + "/signin")
    kind, value = remembered
    client = request.client.host if request.client else ""
    language = language_of(request)
    try:
        await runtime_of(request).parts.buyers.send_code(
            kind, value, client, language=TAGS[language.locale]
        )
    except (errors.InvalidInput, errors.RateLimited) as exc:
        status = 429 if isinstance(exc, errors.RateLimited) else 422
        return page(
            request,
            "code.html",
            status=status,
            error=refusal(language, exc),
            sent_to=views.mask(kind, value),
            kind=kind,
        )
    return see_other(PATH + "/signin/code")


def _signed_in(request: Request[Any, Any, Any], session: str, expires_at: datetime) -> Redirect:
    lasts = max(0, int((expires_at - current_time()).total_seconds()))
    return see_other(
        PATH + "/record",
        cookies=[
            cookie(SESSION_COOKIE, session, secure=secure(request), max_age=lasts),
            removed(SIGNIN_COOKIE, secure=secure(request)),
        ],
    )


@get("/handoff")
async def handoff(
    request: Request[Any, Any, Any],
    token: Annotated[str, Parameter(max_length=8000)] = "",
) -> Response[Any]:
    """Exchange a member's single-use hand-off token for a session, then leave this URL
    (which holds the token) at once; no referrer ever carries it anywhere."""
    language = language_of(request)
    try:
        if not token:
            raise errors.AuthenticationFailed("no token", code="handoff.invalid")
        opened = await runtime_of(request).parts.buyers.open_with_handoff(token)
    except errors.Forbidden as exc:
        return error_page(request, 403, refusal(language, exc))
    except errors.AuthenticationFailed:
        return error_page(request, 401, refusal(language, "handoff.invalid"))
    response = _signed_in(request, opened.session, opened.expires_at)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@post("/signout")
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        # A session already over is no reason to refuse signing out.
        with contextlib.suppress(errors.AuthenticationFailed):
            await runtime_of(request).parts.buyers.close(session)
    return see_other(
        PATH + "/signin?reason=signed_out",
        cookies=[removed(SESSION_COOKIE, secure=secure(request))],
    )
