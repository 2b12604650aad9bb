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

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final

from litestar import Request, Response, Router, get
from litestar.exceptions import HTTPException
from litestar.params import Parameter, QueryParameter
from litestar.static_files import create_static_files_router

from refund_registry import errors
from refund_registry.config import Settings
from refund_registry.web import i18n, render
from refund_registry.web.pages import (
    SignInNeeded,
    check_form,
    http_error,
    internal_error,
    local_path,
    registry_error,
    see_other,
    sign_in_needed,
)
from refund_registry.web.record import (
    appeal_page,
    appeals_page,
    count,
    file_appeal,
    inquiries_page,
    new_appeal_page,
    record_page,
    save_statement,
    statement_page,
    withdraw_appeal,
)
from refund_registry.web.render import secure, template_config
from refund_registry.web.security import (
    PATH,
    STATIC_PATH,
    cookie,
    is_secure,
    secure_headers,
)
from refund_registry.web.signin import (
    code_page,
    enter_code,
    handoff,
    home,
    resend_code,
    send_code,
    sign_out,
    signin_page,
)

__all__ = ["routes", "template_config"]

# -- language --------------------------------------------------------------------------------


@get("/lang/{locale:str}")
async def switch_language(
    request: Request[Any, Any, Any],
    locale: Annotated[str, Parameter(max_length=20)],
    next_path: Annotated[str | None, QueryParameter(name="next", max_length=500)] = None,
) -> Response[Any]:
    """Remember the language for a year and go back to the page the buyer was on."""
    chosen = i18n.locale_of(locale)
    return see_other(
        local_path(next_path),
        cookies=[cookie(i18n.LANG_COOKIE, chosen, secure=secure(request), max_age=365 * 24 * 3600)],
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
            SignInNeeded: sign_in_needed,
            errors.RegistryError: registry_error,
            HTTPException: http_error,
            Exception: internal_error,
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
