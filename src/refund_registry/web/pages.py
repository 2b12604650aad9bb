"""What every portal page shares: who the buyer is, form fields, redirects, error pages."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect, Template

from refund_registry import errors
from refund_registry.runtime import Runtime
from refund_registry.services.appeals import Subject
from refund_registry.web import render
from refund_registry.web.render import language_of, page, refusal, secure
from refund_registry.web.security import (
    FORM_FIELD,
    PATH,
    PORTAL,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    Area,
    removed,
    same_origin,
    token_matches,
)

log = logging.getLogger("refund_registry.web")


SIGNIN_SECONDS: Final = 600
"""How long the sign-in page remembers where the code went (a code lives 10 minutes)."""

MAX_FIELD: Final = 8000
"""Transport bound of a text field; the services apply the real limits."""


PathId = Annotated[str, Parameter(max_length=200)]


class SignInNeeded(Exception):
    """No usable session: the buyer is sent to the sign-in page (``reason`` says why)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "")
        self.reason = reason


# -- helpers ------------------------------------------------------------------------------


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def current_time() -> datetime:
    return datetime.now(UTC)


async def buyer_of(request: Request[Any, Any, Any]) -> Subject:
    """The signed-in buyer, or :class:`SignInNeeded` (idle and absolute limits are the
    session service's; an expired session is simply gone)."""
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        raise SignInNeeded()
    try:
        subject: Subject = await runtime_of(request).parts.buyers.resume(session)
    except errors.AuthenticationFailed as exc:
        raise SignInNeeded("expired") from exc
    return subject


def form_field(form: Any, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    text = value if isinstance(value, str) else ""
    return text[:limit]


def see_other(path: str, **kwargs: Any) -> Redirect:
    return Redirect(path=path, status_code=303, **kwargs)


def local_path(path: str | None) -> str:
    """A redirect target that stays on the portal (never another site)."""
    if not path or not path.startswith(PATH + "/") or path.startswith("//"):
        return PATH + "/record"
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return PATH + "/record"
    return path


def identifier_of(text: str) -> tuple[str, str]:
    """What the buyer typed, as a ``(kind, value)``: an address has an @, a number has not."""
    value = text.strip()
    return ("email" if "@" in value else "phone"), value


def remembered_identifier(request: Request[Any, Any, Any]) -> tuple[str, str] | None:
    raw = request.cookies.get(SIGNIN_COOKIE) or ""
    kind, _, value = raw.partition(":")
    if kind not in ("phone", "email") or not value:
        return None
    return kind, value


# -- hooks and error pages ------------------------------------------------------------------


def form_accepted(request: Request[Any, Any, Any], form: Any, area: Area = PORTAL) -> bool:
    """Whether a POST carries this area's form token and comes from this very site."""
    sent = form.get(FORM_FIELD)
    return same_origin(request.headers) and token_matches(
        request.cookies.get(area.form_cookie),
        request.cookies.get(area.session_cookie),
        sent if isinstance(sent, str) else None,
    )


async def check_form(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Refuse, before anything else, a POST whose form token is missing or wrong."""
    if request.method != "POST":
        return None
    if form_accepted(request, await request.form()):
        return None
    language = language_of(request)
    return page(
        request,
        "error.html",
        status=403,
        title=language.gettext("This form could not be accepted"),
        message=refusal(language, "portal.form_expired"),
        signed_in=bool(request.cookies.get(SESSION_COOKIE)),
    )


def sign_in_needed(request: Request[Any, Any, Any], exc: SignInNeeded) -> Response[Any]:
    target = PATH + "/signin" + (f"?reason={exc.reason}" if exc.reason else "")
    return see_other(target, cookies=[removed(SESSION_COOKIE, secure=secure(request))])


def error_page(request: Request[Any, Any, Any], status: int, message: str) -> Template:
    language = language_of(request)
    return page(
        request,
        "error.html",
        status=status,
        title=render.error_title(language, status),
        message=message,
        signed_in=bool(request.cookies.get(SESSION_COOKIE)),
    )


def registry_error(request: Request[Any, Any, Any], exc: errors.RegistryError) -> Response[Any]:
    if isinstance(exc, errors.Unavailable):
        return error_page(request, 503, refusal(language_of(request), "registry.unavailable"))
    return error_page(request, exc.status, refusal(language_of(request), exc))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = "portal.not_found" if isinstance(exc, NotFoundException) else "portal.error"
    return error_page(request, exc.status_code, refusal(language_of(request), code))


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("portal page failed", exc_info=exc)
    return error_page(request, 500, refusal(language_of(request), "portal.error"))
