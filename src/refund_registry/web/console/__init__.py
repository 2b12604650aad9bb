"""The staff console under ``/console``: adjudicators, members' staff, auditors.

Built on the portal's machinery (``web/security.py``, ``web/render.py``):
the same security headers and Content Security Policy, the same form tokens,
the same catalogs (texts in ``console.po``) and language switch, and
templates that share the portal's stylesheet; only the path and the cookie
names differ (:data:`~refund_registry.web.console.guard.CONSOLE`).

Staff sign in with a one-time link the operator prints (``refund-registry
console link``) or with the organisation's OpenID Connect provider; the
session lives in PostgreSQL (``services/staff_signin.py``). Every page calls
:func:`~refund_registry.web.console.guard.require_staff`, which names the
roles that may use it, and acts through the same use cases as the JSON API,
as the principal itself (logged ``via: console``).

``routes(settings, sections)`` is what the application factory registers;
other sections of the console add their handlers through ``sections``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Router
from litestar.exceptions import HTTPException
from litestar.static_files import create_static_files_router

from refund_registry import errors
from refund_registry.config import Settings
from refund_registry.web import render
from refund_registry.web.console import audit, inbox, oidc, queue, signin
from refund_registry.web.console.guard import (
    PATH,
    STATIC_PATH,
    StaffSignInNeeded,
    check_form,
    http_error,
    internal_error,
    registry_error,
    sign_in_needed,
)
from refund_registry.web.portal import static_folder
from refund_registry.web.security import is_secure, secure_headers

__all__ = ["routes"]

PAGES: list[Any] = [
    signin.home,
    signin.signin_page,
    signin.use_link,
    signin.sign_out,
    signin.switch_language,
    *queue.PAGES,
    *inbox.PAGES,
    *oidc.PAGES,
    *audit.PAGES,
]
"""The console's own handlers; each section module appends its pages (see ``routes``)."""


def routes(settings: Settings, sections: Sequence[Any] = ()) -> list[Router]:
    """The console's pages (these and ``sections``) and its static assets."""
    opt = {render.SECURE_OPT: is_secure(settings.public_url)}
    pages = Router(
        path=PATH,
        route_handlers=[*PAGES, *sections],
        before_request=check_form,
        middleware=[secure_headers],
        exception_handlers={
            StaffSignInNeeded: sign_in_needed,
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
        name="console_static",
        middleware=[secure_headers],
        include_in_schema=False,
        opt=opt,
    )
    return [pages, static]
