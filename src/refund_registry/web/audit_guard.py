"""Who may see the auditor's console, how its pages are rendered, and how its reads are logged.

Only a signed-in principal with the ``auditor`` role passes :func:`auditor_of`;
anyone else is refused (403), and a browser with no staff session is sent to
sign in. Each read is an ``audit.read`` entry attributed to the auditor, with a
request digest that binds it to this very request.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template

from refund_registry.domain.wire import b64url
from refund_registry.errors import RegistryError
from refund_registry.runtime import Runtime
from refund_registry.services import audit
from refund_registry.services.authn import Caller
from refund_registry.web.i18n import N_, Language
from refund_registry.web.render import error_title, language_of

AUDITOR_ROLE = "auditor"
log = logging.getLogger("refund_registry.web")

REFUSALS: Final[Mapping[str, str]] = {
    "audit.action": N_("Choose an action from the list."),
    "audit.time_range": N_("The start of the time range must be before its end."),
    "request.invalid_query": N_(
        "A filter is not in the expected form. Times look like 2026-03-01T08:00."
    ),
    "audit.no_checkpoint": N_("The log has no signed checkpoint yet. Try again in a minute."),
    "console.auditors_only": N_("This page is for auditors only."),
}
_OTHER: Final = N_("The request could not be served. Nothing was changed.")


@dataclass(frozen=True, slots=True)
class Auditor:
    """The signed-in auditor of this request."""

    principal_id: str
    name: str
    runtime: Runtime
    language: Language


async def auditor_of(request: Request[Any, Any, Any]) -> Auditor:
    """The signed-in auditor, or a refusal (see the module docstring)."""
    raise NotImplementedError


def request_digest(request: Request[Any, Any, Any], principal_id: str, at: datetime) -> str:
    """What an ``audit.read`` entry names as its request: a console request carries no signed
    token, so the digest binds the principal, the method, the path with its query, the time
    and a fresh nonce (two identical reads get two distinct entries)."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    material = "\n".join(
        ["console", principal_id, request.method, path, at.isoformat(), secrets.token_hex(16)]
    )
    return b64url(hashlib.sha256(material.encode()).digest())


async def log_read(
    request: Request[Any, Any, Any], auditor: Auditor, view: str, detail: dict[str, Any]
) -> None:
    """Log one console read as an ``audit.read`` entry, durably, before the page is answered."""
    at = datetime.now(UTC)
    caller = Caller(
        principal_id=auditor.principal_id,
        role=AUDITOR_ROLE,
        name=auditor.name,
        kid="console",
        jti="",
        request_digest=request_digest(request, auditor.principal_id, at),
        claims={},
    )
    await audit.record_read(auditor.runtime.access_log, caller, view, at=at, detail=detail)


def console_page(
    request: Request[Any, Any, Any], auditor: Auditor, name: str, **context: Any
) -> Template:
    """Render ``console_audit/<name>`` with what every page of the console shares."""
    language = language_of(request)
    return Template(
        template_name=f"console_audit/{name}",
        context={
            "language": language,
            "html_lang": language.html_lang,
            "locale": language.locale,
            "staff_name": auditor.name,
            "path": request.url.path,
            **context,
        },
    )


def error_page(
    request: Request[Any, Any, Any], status: int, code: str, *, staff_name: str = ""
) -> Template:
    """A refusal in the auditor's words, with its stable code in the page for tooling."""
    language = language_of(request)
    return Template(
        template_name="console_audit/error.html",
        status_code=status,
        context={
            "language": language,
            "html_lang": language.html_lang,
            "locale": language.locale,
            "staff_name": staff_name,
            "section": "",
            "path": request.url.path,
            "title": error_title(language, status),
            "message": language.gettext(REFUSALS.get(code, _OTHER)),
            "code": code,
        },
    )


def registry_error(request: Request[Any, Any, Any], exc: RegistryError) -> Response[Any]:
    return error_page(request, exc.status, exc.code)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's own refusals: a query parameter out of its bounds, an unknown page."""
    status = exc.status_code
    return error_page(
        request, status, "request.invalid_query" if status == 400 else "console.other"
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("auditor console page failed", exc_info=exc)
    return error_page(request, 500, "console.other")
