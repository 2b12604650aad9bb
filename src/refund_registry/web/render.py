"""Rendering portal pages: the template environment, the context every page shares,
and the words for each refusal a buyer can meet.

A page is rendered with the buyer's language, the form token of this
browser, and whether a buyer is signed in; pages never see the session value
itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

from refund_registry.errors import RegistryError
from refund_registry.web import i18n
from refund_registry.web.i18n import N_, Language
from refund_registry.web.security import (
    PORTAL,
    Area,
    cookie,
    form_token,
    new_form_key,
)

SECURE_OPT: Final = "portal_secure_cookies"
"""Route option: whether portal cookies get ``Secure`` (the public URL is https)."""

REFUSALS: Final[Mapping[str, str]] = {
    "request.invalid": N_("Enter a mobile number (for example 138 0013 8000) or an email address."),
    "identifier.invalid": N_(
        "Enter a mobile number (for example 138 0013 8000) or an email address."
    ),
    "buyer.value": N_("Enter a mobile number (for example 138 0013 8000) or an email address."),
    "buyer.kind": N_("Enter a mobile number (for example 138 0013 8000) or an email address."),
    "rate.limited": N_("Too many codes were asked for. Wait a few minutes and try again."),
    "buyer.code_rate_limited": N_(
        "A code was sent moments ago, or too many were asked for. Wait a minute and try again."
    ),
    "buyer.code_format": N_("Enter the 6 digits of the code."),
    "buyer.code_wrong": N_("That code is not right. Check the latest message and try again."),
    "buyer.code_expired": N_("That code has expired. Ask for a new one."),
    "buyer.code_locked": N_("Too many wrong tries. Ask for a new code."),
    "buyer.session_expired": N_("Your session has ended. Please sign in again."),
    "buyer.session_unknown": N_("Your session has ended. Please sign in again."),
    "subject.no_relationship": N_(
        "This platform cannot open your record: it has not reported or checked you in the "
        "last 12 months. Sign in with your phone number or email address instead."
    ),
    "handoff.invalid": N_(
        "This link has expired or was already used. Go back to the platform and open it "
        "again, or sign in with your phone number or email address."
    ),
    "appeal.invalid_grounds": N_("Choose the grounds of your appeal."),
    "appeal.statement_length": N_("Explain your appeal in 1 to 2,000 characters."),
    "appeal.already_open": N_("This report already has an open appeal."),
    "appeal.report_not_appealable": N_(
        "This report no longer counts against you, so there is nothing to appeal."
    ),
    "appeal.withdrawn_recently": N_(
        "You withdrew an appeal on this report recently. You can appeal again from "
        "%(possible_from)s."
    ),
    "appeal.needs_new_evidence": N_(
        "An adjudicator already upheld this report. You can appeal again only with new "
        "evidence: choose “I have new evidence”."
    ),
    "appeal.no_previous_decision": N_(
        "“I have new evidence” is only for a report an adjudicator has upheld. Choose "
        "another reason."
    ),
    "report.not_found": N_("We could not find that report on your record."),
    "appeal.not_found": N_("We could not find that appeal on your record."),
    "appeal.deadline_passed": N_(
        "The deadline has passed: the appeal will be closed in your favour automatically."
    ),
    "appeal.illegal_transition": N_("This appeal can no longer be withdrawn."),
    "subject.statement_length": N_("Write 1 to 200 characters."),
    "subject.statement_not_allowed": N_(
        "You can add a statement only after an adjudicator has decided an appeal against you."
    ),
    "portal.form_expired": N_(
        "This form has expired or did not come from this site. Nothing was changed. Go back, "
        "reload the page and try again."
    ),
    "registry.unavailable": N_(
        "The registry cannot answer right now. Nothing was changed. Try again in a minute."
    ),
    "portal.error": N_("Something went wrong. Nothing was changed. Try again."),
    "portal.not_found": N_("There is no such page."),
}

_TITLES: Final[Mapping[int, str]] = {
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    429: N_("Please wait"),
    503: N_("Temporarily unavailable"),
}


def environment() -> Environment:
    """The portal's Jinja environment: templates from the package, i18n, autoescaping.

    ``StrictUndefined``: a misspelt variable fails the page (and its test)
    instead of printing nothing.
    """
    env = Environment(
        loader=PackageLoader("refund_registry.web", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    i18n.install(env)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    i18n.load_all()
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def language_of(request: Request[Any, Any, Any]) -> Language:
    return Language(i18n.locale_of(request.cookies.get(i18n.LANG_COOKIE)))


def secure(request: Request[Any, Any, Any]) -> bool:
    # An unknown path matched no handler and has no options: Secure, as by default.
    handler = request.scope.get("route_handler")
    return bool(handler.opt.get(SECURE_OPT, True)) if handler is not None else True


def refusal(language: Language, error: RegistryError | str) -> str:
    """The buyer's words for a refusal, with the values it names (a date, say)."""
    code = error if isinstance(error, str) else error.code
    extra = {} if isinstance(error, str) else error.extra
    if code not in REFUSALS:
        if code.startswith("identifier.") or code.startswith("identity."):
            code = "identifier.invalid"
        else:
            code = "portal.error"
    if code == "appeal.withdrawn_recently":
        return language.gettext(
            REFUSALS[code], possible_from=language.moment(extra.get("possible_from"))
        )
    return language.gettext(REFUSALS[code])


_UNKNOWN_TITLE: Final = N_("Something went wrong")


def error_title(language: Language, status: int) -> str:
    return language.gettext(_TITLES.get(status, _UNKNOWN_TITLE))


def page(
    request: Request[Any, Any, Any],
    name: str,
    *,
    status: int = 200,
    cookies: Iterable[Cookie] = (),
    signed_in: bool = False,
    area: Area = PORTAL,
    **context: Any,
) -> Template:
    """Render ``<area>/<name>`` (``portal/`` unless told) with what every page shares.

    A browser that has no form key yet gets one with this page, and the
    page's forms carry the token for it.
    """
    language = language_of(request)
    sent: list[Cookie] = list(cookies)
    key = request.cookies.get(area.form_cookie)
    if not key:
        key = new_form_key()
        sent.append(cookie(area.form_cookie, key, secure=secure(request), path=area.path))
    return Template(
        template_name=f"{area.templates}/{name}",
        status_code=status,
        cookies=sent,
        context={
            "language": language,
            "html_lang": language.html_lang,
            "locale": language.locale,
            "csrf_token": form_token(key, request.cookies.get(area.session_cookie)),
            "signed_in": signed_in,
            "path": request.url.path,
            "error": None,
            **context,
        },
    )
