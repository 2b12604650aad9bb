"""RFC 9457 problem documents: the one place errors become HTTP responses.

A :class:`~refund_registry.errors.RegistryError` carries its own status. The
framework's refusals (unknown route, wrong method, oversize body, a query
parameter or body that does not parse) are given this API's codes here, so a
client sees one vocabulary whichever layer refused. Every code is listed in
``docs/errors.md``.

The ``title`` and ``detail`` are in the language of the request (see
:mod:`refund_registry.http.locale`), and so is the ``detail`` of each of a
refusal's ``violations``. Every sentence a detail may be is a catalog entry
marked ``#. problem detail``; a value the sentence quotes (a field name, a
limit, a parser's message) is a ``%(name)s`` placeholder and is kept as it is.
A test walks every place the code raises an error and checks that its detail
is such a sentence. The ``code`` and every other machine field never change
with the language.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final, NamedTuple, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from refund_registry import errors
from refund_registry.http.locale import locale_of
from refund_registry.i18n import DEFAULT, N_, TAGS, gettext, marked

T = TypeVar("T")
log = logging.getLogger("refund_registry.http")
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://refund-registry.example/problems/"


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
    N_("Invalid cursor"),
)

DETAIL_MARK: Final = "problem detail"
"""How the catalogs mark the sentences a ``detail`` may be (see :func:`i18n.marked`).

A detail that quotes values is written in the code as an English sentence
(an f-string); its catalog entry stands for each value with ``%(name)s``, and
the value is kept as it is (a field name, a limit, a parser's message).
"""
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _frame(message: str) -> re.Pattern[str]:
    """A pattern matching the English sentence ``message`` with any values in its placeholders."""
    parts = _PLACEHOLDER.split(message)
    pattern = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)
    )
    return re.compile(pattern)


# Built once at start-up; the longest fixed text first, so that "no principal
# %(id)s that is not revoked" is tried before "no principal %(id)s".
_FRAMES: Final = tuple(
    sorted(
        ((_frame(m), m) for m in marked(DETAIL_MARK) if _PLACEHOLDER.search(m)),
        key=lambda frame: -len(_PLACEHOLDER.sub("", frame[1])),
    )
)
_COLON: Final = {"zh-CN": "：", "en": ": "}
_LONGEST: Final = 2000
_CHINESE: Final = TAGS[DEFAULT]
"""A sentence is in the catalogs when its Chinese differs from it (English is itself)."""


def _sentence(tag: str, text: str) -> str | None:
    """``text`` in language ``tag`` if it is one of the catalog's sentences, else None."""
    if gettext(_CHINESE, text) != text:  # in the catalogs as it is: no value in it
        return gettext(tag, text)
    for pattern, message in _FRAMES:
        found = pattern.fullmatch(text)
        if found is not None:
            return gettext(tag, message) % found.groupdict()
    return None


@lru_cache(maxsize=4096)
def translated(tag: str, text: str) -> str | None:
    """A title or detail in language ``tag``, or None if the catalogs do not hold it.

    A detail that names where the problem is (``queries[3].purpose: ...``)
    keeps that name and has the sentence after it translated. Cached: the
    same refusal (a rate limit, a bad token) comes back again and again. A
    text longer than any sentence of ours with its values is left as it is,
    so that no value a caller sent makes the matching slow.
    """
    if len(text) > _LONGEST:
        return None
    whole = _sentence(tag, text)
    if whole is not None:
        return whole
    at = text.find(": ")
    while at >= 0:
        tail = _sentence(tag, text[at + 2 :])
        if tail is not None:
            return text[:at] + _COLON[tag] + tail
        at = text.find(": ", at + 2)
    return None


def translate(tag: str, text: str) -> str:
    """A title or detail in language ``tag``; what the catalogs do not hold stays in English."""
    return translated(tag, text) or text


def _violations(tag: str, items: Any) -> Any:
    """The ``violations`` of a refusal with each ``detail`` in language ``tag``."""
    if not isinstance(items, list):
        return items
    return [
        {**v, "detail": translate(tag, v["detail"])}
        if isinstance(v, dict) and isinstance(v.get("detail"), str)
        else v
        for v in items
    ]


def localise_extra(tag: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The extension members of a problem with their human ``detail`` texts in language ``tag``.

    ``violations`` (and those of each of ``invalid_items``) carry a ``detail``
    each, worded like the problem's own; their codes and fields never change.
    """
    out = dict(extra)
    if "violations" in out:
        out["violations"] = _violations(tag, out["violations"])
    if isinstance(out.get("invalid_items"), list):
        out["invalid_items"] = [
            {**item, "violations": _violations(tag, item.get("violations"))}
            if isinstance(item, dict)
            else item
            for item in out["invalid_items"]
        ]
    return out


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
        extra = localise_extra(language, extra) if extra else extra
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
