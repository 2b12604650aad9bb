"""The buyer portal under ``/portal``: sign in, see your record, appeal, sign out.

Server-rendered pages and plain forms: every page works with JavaScript off
(each form posts, then redirects to a page: POST-redirect-GET), and htmx only
adds a live character counter. Who the buyer is comes from the buyer sign-in
service (``rt.parts.buyers``): a one-time code sent to their phone or email,
or a member's single-use hand-off link; the session value lives only in the
HttpOnly ``rr_buyer`` cookie. What the pages show comes from the same use
cases as the JSON API (``rt.parts.appeals``), so a look at the record is
logged exactly as the API's is.

``routes(settings)`` is all the application factory registers, with
``template_config()`` for the pages.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Parameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from refund_registry import errors
from refund_registry.config import Settings
from refund_registry.runtime import Runtime
from refund_registry.services.appeals import Subject
from refund_registry.web import i18n, render, views
from refund_registry.web.render import language_of, page, refusal, secure, template_config
from refund_registry.web.security import (
    FORM_COOKIE,
    FORM_FIELD,
    PATH,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    STATIC_PATH,
    cookie,
    is_secure,
    removed,
    same_origin,
    secure_headers,
    token_matches,
)

log = logging.getLogger("refund_registry.web")

__all__ = ["routes", "template_config"]

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


def _runtime(request: Request[Any, Any, Any]) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _now() -> datetime:
    return datetime.now(UTC)


async def _buyer(request: Request[Any, Any, Any]) -> Subject:
    """The signed-in buyer, or :class:`SignInNeeded` (idle and absolute limits are the
    session service's; an expired session is simply gone)."""
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        raise SignInNeeded()
    try:
        subject: Subject = await _runtime(request).parts.buyers.resume(session)
    except errors.AuthenticationFailed as exc:
        raise SignInNeeded("expired") from exc
    return subject


def _field(form: Any, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    text = value if isinstance(value, str) else ""
    return text[:limit]


def _see_other(path: str, **kwargs: Any) -> Redirect:
    return Redirect(path=path, status_code=303, **kwargs)


def _local(path: str | None) -> str:
    """A redirect target that stays on the portal (never another site)."""
    if not path or not path.startswith(PATH + "/") or path.startswith("//"):
        return PATH + "/record"
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return PATH + "/record"
    return path


def _identifier(text: str) -> tuple[str, str]:
    """What the buyer typed, as a ``(kind, value)``: an address has an @, a number has not."""
    value = text.strip()
    return ("email" if "@" in value else "phone"), value


def _remembered(request: Request[Any, Any, Any]) -> tuple[str, str] | None:
    raw = request.cookies.get(SIGNIN_COOKIE) or ""
    kind, _, value = raw.partition(":")
    if kind not in ("phone", "email") or not value:
        return None
    return kind, value


# -- hooks and error pages ------------------------------------------------------------------


async def check_form(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Refuse, before anything else, a POST whose form token is missing or wrong."""
    if request.method != "POST":
        return None
    form = await request.form()
    sent = form.get(FORM_FIELD)
    good = same_origin(request.headers) and token_matches(
        request.cookies.get(FORM_COOKIE),
        request.cookies.get(SESSION_COOKIE),
        sent if isinstance(sent, str) else None,
    )
    if good:
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


def _sign_in_needed(request: Request[Any, Any, Any], exc: SignInNeeded) -> Response[Any]:
    target = PATH + "/signin" + (f"?reason={exc.reason}" if exc.reason else "")
    return _see_other(target, cookies=[removed(SESSION_COOKIE, secure=secure(request))])


def _error_page(request: Request[Any, Any, Any], status: int, message: str) -> Template:
    language = language_of(request)
    return page(
        request,
        "error.html",
        status=status,
        title=render.error_title(language, status),
        message=message,
        signed_in=bool(request.cookies.get(SESSION_COOKIE)),
    )


def _registry_error(request: Request[Any, Any, Any], exc: errors.RegistryError) -> Response[Any]:
    if isinstance(exc, errors.Unavailable):
        return _error_page(request, 503, refusal(language_of(request), "registry.unavailable"))
    return _error_page(request, exc.status, refusal(language_of(request), exc))


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = "portal.not_found" if isinstance(exc, NotFoundException) else "portal.error"
    return _error_page(request, exc.status_code, refusal(language_of(request), code))


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("portal page failed", exc_info=exc)
    return _error_page(request, 500, refusal(language_of(request), "portal.error"))


# -- language --------------------------------------------------------------------------------


@get("/lang/{locale:str}")
async def switch_language(
    request: Request[Any, Any, Any],
    locale: Annotated[str, Parameter(max_length=20)],
    next_path: Annotated[str | None, QueryParameter(name="next", max_length=500)] = None,
) -> Response[Any]:
    """Remember the language for a year and go back to the page the buyer was on."""
    chosen = i18n.locale_of(locale)
    return _see_other(
        _local(next_path),
        cookies=[cookie(i18n.LANG_COOKIE, chosen, secure=secure(request), max_age=365 * 24 * 3600)],
    )


# -- sign in ---------------------------------------------------------------------------------


@get("/")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    return _see_other(PATH + "/record" if request.cookies.get(SESSION_COOKIE) else PATH + "/signin")


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
    typed = _field(form, "identifier", 320)
    kind, value = _identifier(typed)
    language = language_of(request)
    client = request.client.host if request.client else ""
    try:
        if not value:
            raise errors.InvalidInput("empty identifier", code="identifier.invalid")
        await _runtime(request).parts.buyers.send_code(kind, value, client)
    except (errors.InvalidInput, errors.RateLimited) as exc:
        status = 429 if isinstance(exc, errors.RateLimited) else 422
        return page(
            request, "signin.html", status=status, error=refusal(language, exc), identifier=typed
        )
    remembered = cookie(
        SIGNIN_COOKIE, f"{kind}:{value}", secure=secure(request), max_age=SIGNIN_SECONDS
    )
    return _see_other(PATH + "/signin/code", cookies=[remembered])


@get("/signin/code")
async def code_page(request: Request[Any, Any, Any]) -> Response[Any]:
    remembered = _remembered(request)
    if remembered is None:
        return _see_other(PATH + "/signin")
    kind, value = remembered
    return page(request, "code.html", sent_to=views.mask(kind, value), kind=kind)


@post("/signin/code")
async def enter_code(request: Request[Any, Any, Any]) -> Response[Any]:
    remembered = _remembered(request)
    if remembered is None:
        return _see_other(PATH + "/signin")
    kind, value = remembered
    form = await request.form()
    code = "".join(_field(form, "code", 40).split())
    language = language_of(request)
    sent_to = views.mask(kind, value)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        error = refusal(language, "buyer.code_format")
        return page(request, "code.html", status=422, error=error, sent_to=sent_to, kind=kind)
    try:
        opened = await _runtime(request).parts.buyers.open_with_code(kind, value, code)
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
    remembered = _remembered(request)
    if remembered is None:
        return _see_other(PATH + "/signin")
    kind, value = remembered
    client = request.client.host if request.client else ""
    language = language_of(request)
    try:
        await _runtime(request).parts.buyers.send_code(kind, value, client)
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
    return _see_other(PATH + "/signin/code")


def _signed_in(request: Request[Any, Any, Any], session: str, expires_at: datetime) -> Redirect:
    lasts = max(0, int((expires_at - _now()).total_seconds()))
    return _see_other(
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
        opened = await _runtime(request).parts.buyers.open_with_handoff(token)
    except errors.Forbidden as exc:
        return _error_page(request, 403, refusal(language, exc))
    except errors.AuthenticationFailed:
        return _error_page(request, 401, refusal(language, "handoff.invalid"))
    response = _signed_in(request, opened.session, opened.expires_at)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@post("/signout")
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        # A session already over is no reason to refuse signing out.
        with contextlib.suppress(errors.AuthenticationFailed):
            await _runtime(request).parts.buyers.close(session)
    return _see_other(
        PATH + "/signin?reason=signed_out",
        cookies=[removed(SESSION_COOKIE, secure=secure(request))],
    )


# -- the record ------------------------------------------------------------------------------


async def _record(request: Request[Any, Any, Any]) -> tuple[Subject, views.RecordView]:
    subject = await _buyer(request)
    record = await _runtime(request).parts.appeals.record(subject)
    return subject, views.record_view(language_of(request), record, _now())


@get("/record")
async def record_page(request: Request[Any, Any, Any]) -> Response[Any]:
    _, record = await _record(request)
    return page(request, "record.html", signed_in=True, record=record, section="record")


@get("/inquiries")
async def inquiries_page(request: Request[Any, Any, Any]) -> Response[Any]:
    _, record = await _record(request)
    return page(request, "inquiries.html", signed_in=True, record=record, section="inquiries")


@get("/appeals")
async def appeals_page(request: Request[Any, Any, Any]) -> Response[Any]:
    _, record = await _record(request)
    return page(request, "appeals.html", signed_in=True, record=record, section="appeals")


@get("/appeals/{appeal_id:str}")
async def appeal_page(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    subject = await _buyer(request)
    language = language_of(request)
    view = await _runtime(request).parts.appeals.read(subject, appeal_id[:200])
    report = view.get("report") or {}
    summary = views.appeal_view(
        language, view, {view["report_id"]: str(report.get("member", ""))}, _now()
    )
    amount = report.get("amount") or {}
    return page(
        request,
        "appeal.html",
        signed_in=True,
        section="appeals",
        appeal=summary,
        statement=view.get("statement") or "",
        member_summary=view.get("member_summary"),
        rationale=view.get("decision_rationale"),
        steps=views.timeline(language, view.get("history") or []),
        amount=(
            language.money(int(amount["minor_units"]), str(amount["currency"])) if amount else ""
        ),
    )


def _appeal_form(
    request: Request[Any, Any, Any],
    record: views.RecordView,
    report_id: str,
    *,
    status: int = 200,
    error: errors.RegistryError | None = None,
    grounds: str = "",
    statement: str = "",
) -> Response[Any]:
    language = language_of(request)
    report = next((r for r in record.reports if r.report_id == report_id), None)
    if report is None:
        return _error_page(request, 404, refusal(language_of(request), "report.not_found"))
    return page(
        request,
        "appeal_new.html",
        status=status,
        signed_in=True,
        section="appeals",
        report=report,
        grounds_choices=[
            (value, language.gettext(label), language.gettext(text))
            for value, label, text in views.grounds_for(record, report_id)
        ],
        chosen=grounds,
        statement=statement,
        count=views.length(statement),
        limit=views.APPEAL_STATEMENT_MAX,
        error=refusal(language, error) if error else None,
        error_field=(
            "" if error is None else "statement" if "statement" in error.code else "grounds"
        ),
    )


@get("/appeals/new")
async def new_appeal_page(
    request: Request[Any, Any, Any],
    report: Annotated[str, Parameter(max_length=200)] = "",
) -> Response[Any]:
    _, record = await _record(request)
    return _appeal_form(request, record, report)


@post("/appeals")
async def file_appeal(request: Request[Any, Any, Any]) -> Response[Any]:
    subject = await _buyer(request)
    form = await request.form()
    report_id = _field(form, "report_id", 200)
    grounds = _field(form, "grounds", 60)
    statement = _field(form, "statement")
    language = language_of(request)
    try:
        if grounds not in views.GROUND_VALUES:
            raise errors.InvalidInput("no grounds chosen", code="appeal.invalid_grounds")
        appeal = await _runtime(request).parts.appeals.open(subject, report_id, grounds, statement)
    except (errors.InvalidInput, errors.Conflict) as exc:
        record = await _runtime(request).parts.appeals.record(subject)
        shown = views.record_view(language, record, _now())
        return _appeal_form(
            request,
            shown,
            report_id,
            status=exc.status,
            error=exc,
            grounds=grounds,
            statement=statement,
        )
    return _see_other(f"{PATH}/appeals/{appeal['appeal_id']}?filed=1")


@post("/appeals/{appeal_id:str}/withdraw")
async def withdraw_appeal(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    subject = await _buyer(request)
    await _runtime(request).parts.appeals.withdraw(subject, appeal_id[:200])
    return _see_other(f"{PATH}/appeals/{appeal_id[:200]}")


# -- the statement ---------------------------------------------------------------------------


def _statement_form(
    request: Request[Any, Any, Any],
    record: views.RecordView,
    *,
    status: int = 200,
    text: str | None = None,
    error: str | None = None,
    saved: bool = False,
) -> Response[Any]:
    current = record.statement or ""
    shown = current if text is None else text
    allowed = any(a.state_code == "upheld" for a in record.appeals)
    return page(
        request,
        "statement.html",
        status=status,
        signed_in=True,
        section="statement",
        current=current,
        statement=shown,
        count=views.length(shown),
        limit=views.STATEMENT_MAX,
        allowed=allowed,
        error=error,
        saved=saved,
    )


@get("/statement")
async def statement_page(
    request: Request[Any, Any, Any],
    saved: Annotated[str | None, Parameter(max_length=10)] = None,
) -> Response[Any]:
    _, record = await _record(request)
    return _statement_form(request, record, saved=saved is not None)


@post("/statement")
async def save_statement(request: Request[Any, Any, Any]) -> Response[Any]:
    subject = await _buyer(request)
    form = await request.form()
    text = _field(form, "statement")
    remove = _field(form, "action", 20) == "remove"
    language = language_of(request)
    try:
        await _runtime(request).parts.appeals.set_statement(subject, None if remove else text)
    except (errors.InvalidInput, errors.Conflict) as exc:
        record = await _runtime(request).parts.appeals.record(subject)
        shown = views.record_view(language, record, _now())
        return _statement_form(
            request, shown, status=exc.status, text=text, error=refusal(language, exc)
        )
    return _see_other(PATH + "/statement?saved=1")


@post("/count/{which:str}")
async def count(request: Request[Any, Any, Any], which: PathId) -> Response[Any]:
    """The live counter under a text box (htmx): counted here, as the registry counts."""
    limit = views.STATEMENT_MAX if which == "statement" else views.APPEAL_STATEMENT_MAX
    form = await request.form()
    text = _field(form, "statement")
    return page(
        request,
        "counter.html",
        count=views.length(text),
        limit=limit,
        field_id="statement",
    )


# -- assembly --------------------------------------------------------------------------------

_PAGES: Final = [
    switch_language,
    home,
    signin_page,
    send_code,
    code_page,
    enter_code,
    resend_code,
    handoff,
    sign_out,
    record_page,
    inquiries_page,
    appeals_page,
    new_appeal_page,
    appeal_page,
    file_appeal,
    withdraw_appeal,
    statement_page,
    save_statement,
    count,
]


def static_folder() -> Path:
    """The vendored assets, inside the installed package (a wheel includes them)."""
    return Path(str(resources.files("refund_registry.web").joinpath("static")))


def routes(settings: Settings) -> list[Router]:
    """The portal's pages and its static assets, both under ``/portal``."""
    opt = {render.SECURE_OPT: is_secure(settings.public_url)}
    pages = Router(
        path=PATH,
        route_handlers=_PAGES,
        before_request=check_form,
        middleware=[secure_headers],
        exception_handlers={
            SignInNeeded: _sign_in_needed,
            errors.RegistryError: _registry_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        include_in_schema=False,
        opt=opt,
    )
    static = create_static_files_router(
        path=STATIC_PATH,
        directories=[static_folder()],
        name="portal_static",
        middleware=[secure_headers],
        include_in_schema=False,
        opt=opt,
    )
    return [pages, static]
