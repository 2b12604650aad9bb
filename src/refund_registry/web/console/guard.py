"""Who is at the console: the guard every console page calls, and the pages it shares.

The guard API for console sections::

    staff = await require_staff(request, roles={"adjudicator"})
    view = await rt.parts.appeals.read(staff.caller(), appeal_id)
    return console_page(request, "case.html", staff, section="queue", appeal=view)

:func:`require_staff` turns the ``rr_staff`` cookie into a
:class:`~refund_registry.services.staff_signin.StaffIdentity`; without a live
session the browser is sent to the sign-in page (:class:`StaffSignInNeeded`),
and a principal whose role may not use the page gets a 403 page
(``auth.forbidden_role``). ``staff.caller()`` is what the use cases take: the
principal itself, acting ``via: console`` in this session, so every action
is logged as an attributable access. :func:`console_page` renders
``console/<name>`` with the navigation of the principal's role.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Template

from refund_registry import errors
from refund_registry.domain.staff_access import Section
from refund_registry.i18n import N_
from refund_registry.services.staff_signin import StaffIdentity
from refund_registry.web import render
from refund_registry.web.pages import form_accepted, runtime_of, see_other
from refund_registry.web.render import language_of, page, secure
from refund_registry.web.security import Area, removed

log = logging.getLogger("refund_registry.web.console")

PATH: Final = "/console"
STATIC_PATH: Final = "/console/static"
CONSOLE: Final = Area(
    path=PATH, session_cookie="rr_staff", form_cookie="rr_staff_csrf", templates="console"
)

SECTION_HOME: Final[Mapping[Section, str]] = {
    Section.QUEUE: PATH + "/queue",
    Section.INBOX: PATH + "/inbox",
    Section.AUDIT: PATH + "/audit",
}
"""Where each section starts; the console's home sends a principal to its first."""

REFUSALS: Final[Mapping[str, str]] = {
    "console.link_invalid": N_(
        "This sign-in link is unknown, was used already or has expired. Ask for a new one."
    ),
    "console.session_expired": N_("Your console session has ended. Please sign in again."),
    "console.principal_inactive": N_(
        "This account is suspended or revoked, or has no console. Ask the registry's operator."
    ),
    "console.oidc_unmapped": N_(
        "Your organisation account is not linked to a registry account. Ask the registry's "
        "operator to link it."
    ),
    "console.oidc_failed": N_("Signing in with your organisation failed. Nothing was changed."),
    "console.oidc_disabled": N_("Signing in with an organisation account is not set up here."),
    "auth.forbidden_role": N_("Your role cannot use this page."),
    "console.form_expired": N_(
        "This form has expired or did not come from this site. Nothing was changed. Go back, "
        "reload the page and try again."
    ),
    "appeal.not_found": N_("There is no such appeal, or you may not see it."),
    "appeal.illegal_transition": N_(
        "This appeal is not waiting for that step any more. Reload it to see where it stands."
    ),
    "appeal.deadline_passed": N_(
        "The deadline has passed: the appeal is being closed automatically."
    ),
    "appeal.rationale_length": N_("Give the reasons for the decision (1 to 2,000 characters)."),
    "appeal.summary_required": N_("Summarise your evidence (1 to 2,000 characters)."),
    "appeal.summary_length": N_("Summarise your evidence (1 to 2,000 characters)."),
    "appeal.unknown_action": N_("Choose one of the answers offered."),
    "appeal.forbidden_role": N_("Your role cannot take this step."),
    "appeal.report_closed": N_("The report is off the record already; the appeal is closing."),
    "registry.unavailable": N_(
        "The registry cannot answer right now. Nothing was changed. Try again in a minute."
    ),
    "console.error": N_("Something went wrong. Nothing was changed. Try again."),
    "console.not_found": N_("There is no such page."),
}


class StaffSignInNeeded(Exception):
    """No usable console session: the browser goes to the sign-in page (``reason`` says why)."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "")
        self.reason = reason


def refusal(request: Request[Any, Any, Any], error: errors.RegistryError | str) -> str:
    """Staff words for a refusal; the portal's words for anything the console has none for."""
    code = error if isinstance(error, str) else error.code
    language = language_of(request)
    if code in REFUSALS:
        return language.gettext(REFUSALS[code])
    if code.startswith("appeal.") and code in render.REFUSALS:
        return render.refusal(language, error)
    return language.gettext(REFUSALS["console.error"])


async def require_staff(
    request: Request[Any, Any, Any], roles: Iterable[str] | None = None
) -> StaffIdentity:
    """The principal signed in to the console in this browser; ``roles`` may use the page.

    Raises :class:`StaffSignInNeeded` without a live session (also the moment
    the principal is suspended or revoked), and ``Forbidden``
    (``auth.forbidden_role``, a 403 page) for any other role.
    """
    session = request.cookies.get(CONSOLE.session_cookie)
    if not session:
        raise StaffSignInNeeded()
    try:
        staff = await runtime_of(request).parts.staff.resume(session)
    except errors.AuthenticationFailed as exc:
        raise StaffSignInNeeded("expired") from exc
    except errors.Forbidden as exc:
        raise StaffSignInNeeded("inactive") from exc
    allowed = frozenset(roles) if roles is not None else None
    if allowed is not None and staff.role not in allowed:
        raise errors.Forbidden(
            f"role {staff.role!r} may not use this page", code="auth.forbidden_role"
        )
    return staff


def console_page(
    request: Request[Any, Any, Any],
    name: str,
    staff: StaffIdentity | None,
    *,
    status: int = 200,
    section: str | None = None,
    **context: Any,
) -> Template:
    """Render ``console/<name>`` with the navigation of ``staff``'s role."""
    nav = [(s.value, SECTION_HOME[s]) for s in staff.sections] if staff else []
    return page(
        request,
        name,
        status=status,
        area=CONSOLE,
        signed_in=staff is not None,
        staff=staff,
        nav=nav,
        section=section,
        **context,
    )


# -- hooks and error pages ------------------------------------------------------------------


async def check_form(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Refuse, before anything else, a console POST whose form token is missing or wrong."""
    if request.method != "POST":
        return None
    if form_accepted(request, await request.form(), CONSOLE):
        return None
    language = language_of(request)
    return console_page(
        request,
        "error.html",
        None,
        status=403,
        title=language.gettext("This form could not be accepted"),
        message=refusal(request, "console.form_expired"),
    )


def error_page(request: Request[Any, Any, Any], status: int, message: str) -> Template:
    return console_page(
        request,
        "error.html",
        None,
        status=status,
        title=render.error_title(language_of(request), status),
        message=message,
    )


def sign_in_needed(request: Request[Any, Any, Any], exc: StaffSignInNeeded) -> Response[Any]:
    target = PATH + "/signin" + (f"?reason={exc.reason}" if exc.reason else "")
    return see_other(
        target, cookies=[removed(CONSOLE.session_cookie, secure=secure(request), path=PATH)]
    )


def registry_error(request: Request[Any, Any, Any], exc: errors.RegistryError) -> Response[Any]:
    if isinstance(exc, errors.Unavailable):
        return error_page(request, 503, refusal(request, "registry.unavailable"))
    return error_page(request, exc.status, refusal(request, exc))


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = "console.not_found" if isinstance(exc, NotFoundException) else "console.error"
    return error_page(request, exc.status_code, refusal(request, code))


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("console page failed", exc_info=exc)
    return error_page(request, 500, refusal(request, "console.error"))
