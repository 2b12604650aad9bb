"""RFC 9457 problem documents: the one place errors become HTTP responses.

A :class:`~refund_registry.errors.RegistryError` carries its own status. The
framework's refusals (unknown route, wrong method, oversize body, a query
parameter or body that does not parse) are given this API's codes here, so a
client sees one vocabulary whichever layer refused. Every code is listed in
``docs/errors.md``.

The ``title`` and ``detail`` are in the language of the request (see
:mod:`refund_registry.http.locale`): titles and the fixed sentences come from
the shared catalogs; a value a detail quotes (a field name, a parser's message)
stays as it is, and a detail with no translation is sent in English. The
``code`` and every other machine field never change with the language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from refund_registry import errors
from refund_registry.http.locale import content_language, locale_of
from refund_registry.i18n import N_, SUPPORTED_TAGS, gettext

T = TypeVar("T")
log = logging.getLogger("refund_registry.http")
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://refund-registry.example/problems/"


__all__ = ["content_language"]  # the app's before_send hook lives with the problems


class _Refusal(NamedTuple):
    code: str
    title: str


# Litestar's own refusals (routing, size limits) by status.
_HTTP_CODES: Mapping[int, _Refusal] = {
    400: _Refusal(code="request.invalid_body", title=N_("Malformed request")),
    401: _Refusal(code="auth.missing", title=N_("Authentication required")),
    403: _Refusal(code="auth.forbidden", title=N_("Forbidden")),
    404: _Refusal(code="route.not_found", title=N_("Not found")),
    405: _Refusal(code="route.method_not_allowed", title=N_("Method not allowed")),
    413: _Refusal(code="request.too_large", title=N_("Request body too large")),
    415: _Refusal(code="request.unsupported_media_type", title=N_("Unsupported media type")),
    429: _Refusal(code="rate.limited", title=N_("Too many requests")),
}
_OTHER = _Refusal(code="request.invalid", title=N_("Bad request"))
_INTERNAL = _Refusal(code="internal.error", title=N_("Internal error"))

# The titles of the error classes (``errors.py`` and the domain's own), for the catalogs.
ERROR_TITLES: Final = (
    N_("Registry error"),
    N_("Invalid request"),
    N_("Malformed request body"),
    N_("Authentication failed"),
    N_("Conflict"),
    N_("Service unavailable"),
    N_("Invalid base64url"),
    N_("Invalid identifier"),
    N_("Invalid blinded element"),
    N_("Invalid evaluation batch"),
    N_("Invalid OPRF input"),
    N_("Invalid key material"),
    N_("Invalid pseudonym"),
    N_("New evidence needed"),
    N_("No previous decision"),
    N_("Unknown appeal action"),
    N_("Invalid appeal grounds"),
    N_("Appeal statement length"),
    N_("Evidence summary length"),
    N_("Role may not take this appeal action"),
    N_("Illegal appeal transition"),
    N_("Appeal deadline passed"),
    N_("Appeal deadline not due"),
    N_("Appeal already open"),
    N_("Report cannot be appealed"),
    N_("Appeal withdrawn recently"),
    N_("Key service proof did not verify"),
    N_("Invalid Merkle proof"),
    N_("Invalid checkpoint"),
)

# The fixed sentences of the most common details. ``%(name)s`` stands for a
# value the detail quotes as it is (a field name, a list of options, a parser's
# message); it is never translated.
DETAILS: Final = (
    N_("the request body is empty; a JSON object is expected"),
    N_("the body does not match the schema: %(error)s"),
    N_("the body is not valid JSON: %(error)s"),
    N_("query parameter %(name)s: %(message)s"),
    N_("the registry failed to handle this request; it has been logged"),
    N_("send 'Authorization: Bearer <signed JWT>'"),
    N_("the Authorization header must use the Bearer scheme"),
    N_("this token's 'jti' has already been used"),
    N_("'kid' does not name a registered key"),
    N_("this key has been revoked"),
    N_("role %(role)s may not use this route"),
    N_("state a purpose, one of %(purposes)s"),
    N_("must be one of %(options)s"),
    N_("must be 86 base64url characters (64 bytes)"),
    N_("1 to %(count)s identifiers"),
    N_("a batch holds 1 to %(count)s queries"),
    N_("rate limit of %(limit)s per second reached; slow down"),
    N_("daily quota of %(quota)s exhausted; it resets at 00:00 UTC"),
    N_("the access log could not be written; nothing was answered"),
    # Enumeration budgets and the token audience (quotas.po).
    N_("a query names one buyer: at most one identifier of each kind"),
    N_("one request may look up at most %(limit)s identifiers; split the batch"),
    N_(
        "%(legacy)s was an audience shared by every deployment and is no longer accepted: "
        "tokens for this registry carry its public URL, %(audience)s"
    ),
    N_("Not Found"),
    N_("Method Not Allowed"),
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _frame(message: str) -> re.Pattern[str]:
    """A pattern matching the English sentence ``message`` with any values in its placeholders."""
    parts = _PLACEHOLDER.split(message)
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(pattern)


# Built once at start-up: the exact sentences, and the patterns of those with values.
_EXACT: Final = {
    tag: {
        m: gettext(tag, m)
        for m in (
            *DETAILS,
            *ERROR_TITLES,
            *(r.title for r in _HTTP_CODES.values()),
            _OTHER.title,
            _INTERNAL.title,
        )
    }
    for tag in SUPPORTED_TAGS
}
_FRAMES: Final = tuple((_frame(m), m) for m in DETAILS if "%(" in m)
_COLON: Final = {"zh-CN": "：", "en": ": "}


def _sentence(tag: str, text: str) -> str | None:
    """``text`` in language ``tag`` if it is one of the catalog's sentences, else None."""
    exact = _EXACT[tag].get(text)
    if exact is not None:
        return exact
    for pattern, message in _FRAMES:
        found = pattern.fullmatch(text)
        if found is not None:
            return gettext(tag, message) % found.groupdict()
    return None


def translate(tag: str, text: str) -> str:
    """A title or detail in language ``tag``; what has no translation is left in English.

    A detail that names where the problem is (``queries[3].purpose: ...``)
    keeps that name and has the sentence after it translated.
    """
    whole = _sentence(tag, text)
    if whole is not None:
        return whole
    where, sep, rest = text.partition(": ")
    if sep:
        tail = _sentence(tag, rest)
        if tail is not None:
            return where + _COLON[tag] + tail
    return text


QueryRefusal = Callable[[str, str], errors.RegistryError]
"""``(parameter, message) -> error``: how one route words a bad query parameter."""


def invalid_query(name: str, message: str) -> errors.RegistryError:
    """The default for a query parameter that does not parse or breaks its declared bounds."""
    return errors.MalformedBody(
        f"query parameter {name!r}: {message}", code="request.invalid_query"
    )


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    language: str | None = None,
) -> Response[bytes]:
    """A problem document; with ``language``, its title and detail in that language."""
    if language is not None:
        title, detail = translate(language, title), translate(language, detail)
        headers = {**(headers or {}), "Content-Language": language}
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _registry_problem(
    request: Request[Any, Any, Any], exc: errors.RegistryError
) -> Response[bytes]:
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimited | errors.Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.AuthenticationFailed):
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{exc.code}"'
        )
    return problem(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        instance=request.url.path,
        extra=exc.extra,
        headers=headers or None,
        language=locale_of(request),
    )


def registry_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, errors.RegistryError)
    return _registry_problem(request, exc)


def _from_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> errors.RegistryError:
    """A parameter or body the framework could not bind, in this API's words.

    Bodies are decoded by ``StrictBodies``, which raises the API's own errors;
    what reaches here for a body is only a missing one. Query parameters are
    worded by the route's ``opt["query_refusals"]`` when it has its own codes
    for them, else they are a 400 ``request.invalid_query``.
    """
    items = [i for i in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(i, dict)]
    if not items:
        # A missing required parameter: Litestar names it only in the detail.
        if " query parameter " in str(exc.detail):
            return invalid_query("", str(exc.detail).partition(" for path ")[0])
        return errors.MalformedBody("the request body is empty; a JSON object is expected")
    refusals: Mapping[str, QueryRefusal] = request.route_handler.opt.get("query_refusals", {})
    for item in items:
        key = str(item.get("key", ""))
        message = str(item.get("message", "invalid"))
        if key == "data" or key.startswith("data.") or item.get("source") == "body":
            break
        return refusals.get(key, invalid_query)(key, message)
    return errors.MalformedBody("the request body is empty; a JSON object is expected")


def http_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ValidationException):
        return _registry_problem(request, _from_validation(request, exc))
    status = exc.status_code
    if status >= 500:
        return internal_error_handler(request, exc)
    refusal = _HTTP_CODES.get(status, _OTHER)
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return problem(
        status,
        refusal.code,
        refusal.title,
        str(exc.detail),
        instance=request.url.path,
        headers=headers or None,
        language=locale_of(request),
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return problem(
        500,
        _INTERNAL.code,
        _INTERNAL.title,
        "the registry failed to handle this request; it has been logged",
        instance=request.url.path,
        language=locale_of(request),
    )


def exception_handlers() -> ExceptionHandlersMap:
    """Every failure as an RFC 9457 problem document: the API's and the key service's."""
    return {
        errors.RegistryError: registry_error_handler,
        HTTPException: http_error_handler,
        Exception: internal_error_handler,
    }


def decode(body: bytes, typ: type[T]) -> T:
    """Strict JSON decoding at the boundary: wrong types and unknown fields are 400s."""
    if not body:
        raise errors.MalformedBody("the request body is empty; a JSON object is expected")
    try:
        return msgspec.json.decode(body, type=typ)
    except msgspec.ValidationError as exc:
        raise errors.MalformedBody(f"the body does not match the schema: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise errors.MalformedBody(f"the body is not valid JSON: {exc}") from exc
