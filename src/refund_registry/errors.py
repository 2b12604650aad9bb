"""The domain error tree.

Every error a caller can provoke is one of these classes, each with a stable,
machine-readable ``code`` and the HTTP ``status`` it is answered with. Storage
adapters translate driver errors into them and the HTTP layer translates them
into RFC 9457 problem documents; nothing else catches or invents error codes.
Every code is listed, with its status and meaning, in ``docs/errors.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class RegistryError(Exception):
    """Base class. ``code`` is stable; ``detail`` is for humans.

    ``status`` is a class attribute: a ``code`` passed at raise time refines
    the reason, never the status, so every code has exactly one status.
    """

    code: ClassVar[str] = "registry.error"
    title: ClassVar[str] = "Registry error"
    status: ClassVar[int] = 400

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.extra: dict[str, Any] = dict(extra or {})


class InvalidInput(RegistryError):
    """The request is well-formed transport-wise but its content breaks a rule."""

    code = "request.invalid"
    title = "Invalid request"
    status = 422


class MalformedBody(InvalidInput):
    code = "request.invalid_body"
    title = "Malformed request body"
    status = 400


class InvalidCursor(RegistryError):
    """An ``after`` cursor that no earlier page of this listing, for this caller, handed out."""

    code = "page.cursor"
    title = "Invalid cursor"
    status = 400


class PayloadTooLarge(InvalidInput):
    code = "request.too_large"
    title = "Request body too large"
    status = 413


class AuthenticationFailed(RegistryError):
    """The bearer token is missing or failed one of the signed-request checks."""

    code = "auth.invalid"
    title = "Authentication failed"
    status = 401


class Forbidden(RegistryError):
    """Authenticated, but the principal's role may not use this route."""

    code = "auth.forbidden_role"
    title = "Forbidden"
    status = 403


class NotFound(RegistryError):
    code = "resource.not_found"
    title = "Not found"
    status = 404


class Conflict(RegistryError):
    code = "resource.conflict"
    title = "Conflict"
    status = 409


class RateLimited(RegistryError):
    code = "rate.limited"
    title = "Too many requests"
    status = 429

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(RegistryError):
    """A backing service is down; the caller should retry later."""

    code = "service.unavailable"
    title = "Service unavailable"
    status = 503

    def __init__(self, detail: str, *, retry_after: int = 5, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after
