"""RFC 9457 problem documents: the one place errors become HTTP responses.

A :class:`~refund_registry.errors.RegistryError` carries its own status. The
framework's refusals (unknown route, wrong method, oversize body, a query
parameter or body that does not parse) are given this API's codes here, so a
client sees one vocabulary whichever layer refused. Every code is listed in
``docs/errors.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from refund_registry import errors

T = TypeVar("T")
log = logging.getLogger("refund_registry.http")
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://refund-registry.example/problems/"


class _Refusal(NamedTuple):
    code: str
    title: str


# Litestar's own refusals (routing, size limits) by status.
_HTTP_CODES: Mapping[int, _Refusal] = {
    400: _Refusal(code="request.invalid_body", title="Malformed request"),
    401: _Refusal(code="auth.missing", title="Authentication required"),
    403: _Refusal(code="auth.forbidden", title="Forbidden"),
    404: _Refusal(code="route.not_found", title="Not found"),
    405: _Refusal(code="route.method_not_allowed", title="Method not allowed"),
    413: _Refusal(code="request.too_large", title="Request body too large"),
    415: _Refusal(code="request.unsupported_media_type", title="Unsupported media type"),
    429: _Refusal(code="rate.limited", title="Too many requests"),
}
_OTHER = _Refusal(code="request.invalid", title="Bad request")
_INTERNAL = _Refusal(code="internal.error", title="Internal error")

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
) -> Response[bytes]:
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
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return problem(
        500,
        _INTERNAL.code,
        _INTERNAL.title,
        "the registry failed to handle this request; it has been logged",
        instance=request.url.path,
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
