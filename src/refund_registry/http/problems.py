"""RFC 9457 problem documents: the one place errors become HTTP responses."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from refund_registry import errors

T = TypeVar("T")
log = logging.getLogger("refund_registry.http")
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://refund-registry.example/problems/"

_STATUS: list[tuple[type[errors.RegistryError], int]] = [
    (errors.PayloadTooLarge, 413),
    (errors.MalformedBody, 400),
    (errors.InvalidInput, 422),
    (errors.AuthenticationFailed, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.RateLimited, 429),
    (errors.Unavailable, 503),
]

# Litestar's own refusals (routing, size limits) by status.
_HTTP_CODES = {
    400: ("request.invalid_body", "Malformed request"),
    401: ("auth.missing", "Authentication required"),
    403: ("auth.forbidden", "Forbidden"),
    404: ("route.not_found", "Not found"),
    405: ("route.method_not_allowed", "Method not allowed"),
    413: ("request.too_large", "Request body too large"),
    415: ("request.unsupported_media_type", "Unsupported media type"),
    429: ("rate.limited", "Too many requests"),
}


def status_for(exc: errors.RegistryError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


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


def registry_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, errors.RegistryError)
    status = status_for(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimited | errors.Unavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.AuthenticationFailed):
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{exc.code}"'
        )
    return problem(
        status,
        exc.code,
        exc.title,
        exc.detail,
        instance=request.url.path,
        extra=exc.extra,
        headers=headers or None,
    )


def http_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status >= 500:
        return internal_error_handler(request, exc)
    code, title = _HTTP_CODES.get(status, ("request.invalid", "Bad request"))
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "allow"}
    return problem(
        status, code, title, str(exc.detail), instance=request.url.path, headers=headers or None
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return problem(
        500,
        "internal.error",
        "Internal error",
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
