"""Signing staff in and out: a one-time link, or the organisation's identity provider.

**The link is confirmed with a POST.** ``GET /console/signin?token=…`` does
not use the link up: it shows a page with one button, whose form carries the
token and this browser's form token. Mail scanners and link previews fetch
links with GET; were GET enough, they would burn a single-use link before
its owner clicks it. The confirmation also keeps another site from signing
a browser in to a session of the attacker's choosing (login CSRF): the POST
needs the form token of this browser. The page that holds the token in its
URL sends no referrer anywhere and is not cached, and once used the token
opens nothing.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import Parameter, QueryParameter

from refund_registry import errors
from refund_registry.domain.staff_access import LINK_PREFIX
from refund_registry.services.staff_signin import OpenedStaffSession
from refund_registry.web import i18n
from refund_registry.web.console.guard import (
    CONSOLE,
    PATH,
    SECTION_HOME,
    StaffSignInNeeded,
    console_page,
    refusal,
    require_staff,
)
from refund_registry.web.pages import form_field, runtime_of, see_other
from refund_registry.web.render import language_of, secure
from refund_registry.web.security import cookie, removed

_NOTICES = {
    "expired": "console.session_expired",
    "inactive": "console.principal_inactive",
}


@get("/")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    """The first section of the principal's role; the sign-in page without a session."""
    try:
        staff = await require_staff(request)
    except StaffSignInNeeded as exc:
        suffix = f"?reason={exc.reason}" if exc.reason else ""
        return see_other(PATH + "/signin" + suffix)
    if not staff.sections:
        return console_page(request, "home.html", staff)
    return see_other(SECTION_HOME[staff.sections[0]])


@get("/signin")
async def signin_page(
    request: Request[Any, Any, Any],
    token: Annotated[str | None, Parameter(max_length=300)] = None,
    reason: Annotated[str | None, Parameter(max_length=40)] = None,
) -> Response[Any]:
    """The sign-in page; with ``token``, the confirmation of a one-time link."""
    language = language_of(request)
    notice = None
    if reason in _NOTICES:
        notice = refusal(request, _NOTICES[reason])
    elif reason == "signed_out":
        notice = language.gettext("You have signed out of the console.")
    oidc = runtime_of(request).settings.oidc_issuer != ""
    staff = None
    if request.cookies.get(CONSOLE.session_cookie):
        # Signed in already: the page says as whom, with the sections and sign-out.
        with contextlib.suppress(StaffSignInNeeded):
            staff = await require_staff(request)
    if token is not None:
        if not token.startswith(LINK_PREFIX):
            return console_page(
                request,
                "signin.html",
                None,
                status=401,
                error=refusal(request, "console.link_invalid"),
                notice=None,
                oidc=oidc,
            )
        return console_page(request, "link.html", None, token=token)
    return console_page(request, "signin.html", staff, error=None, notice=notice, oidc=oidc)


@post("/signin")
async def use_link(request: Request[Any, Any, Any]) -> Response[Any]:
    """Use a one-time link up; open a session; go to the console's home."""
    form = await request.form()
    token = form_field(form, "token", 300)
    try:
        opened = await runtime_of(request).parts.staff.open_with_link(token)
    except (errors.AuthenticationFailed, errors.Forbidden) as exc:
        status = 403 if isinstance(exc, errors.Forbidden) else 401
        oidc = runtime_of(request).settings.oidc_issuer != ""
        return console_page(
            request,
            "signin.html",
            None,
            status=status,
            error=refusal(request, exc),
            notice=None,
            oidc=oidc,
        )
    return signed_in(request, opened)


def signed_in(request: Request[Any, Any, Any], opened: OpenedStaffSession) -> Response[Any]:
    """Set the session cookie (limited to ``/console``) and go to the console's home."""
    lasts = max(0, int((opened.expires_at - datetime.now(UTC)).total_seconds()))
    response = see_other(
        PATH + "/",
        cookies=[
            cookie(
                CONSOLE.session_cookie,
                opened.session,
                secure=secure(request),
                max_age=lasts,
                path=PATH,
            )
        ],
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@post("/signout")
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    session = request.cookies.get(CONSOLE.session_cookie)
    if session:
        # A session already over is no reason to refuse signing out.
        with contextlib.suppress(errors.AuthenticationFailed):
            await runtime_of(request).parts.staff.close(session)
    return see_other(
        PATH + "/signin?reason=signed_out",
        cookies=[removed(CONSOLE.session_cookie, secure=secure(request), path=PATH)],
    )


@get("/lang/{locale:str}")
async def switch_language(
    request: Request[Any, Any, Any],
    locale: Annotated[str, Parameter(max_length=20)],
    next_path: Annotated[str | None, QueryParameter(name="next", max_length=500)] = None,
) -> Response[Any]:
    """Remember the language for a year (a cookie of the console's path) and go back."""
    chosen = i18n.locale_of(locale)
    target = next_path if next_path and next_path.startswith(PATH + "/") else PATH + "/"
    if target.startswith("//") or "\\" in target:
        target = PATH + "/"
    return see_other(
        target,
        cookies=[
            cookie(
                i18n.LANG_COOKIE, chosen, secure=secure(request), max_age=365 * 24 * 3600, path=PATH
            )
        ],
    )
