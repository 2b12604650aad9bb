"""The domain error tree.

Every error a caller can provoke is one of these classes, each with a stable,
machine-readable ``code``. Storage adapters translate driver errors into them
and the HTTP layer translates them into RFC 9457 problem documents; nothing
else catches or invents error codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class RegistryError(Exception):
    """Base class. ``code`` is stable; ``detail`` is for humans."""

    code: ClassVar[str] = "registry.error"
    title: ClassVar[str] = "Registry error"

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


class MalformedBody(InvalidInput):
    code = "request.invalid_body"
    title = "Malformed request body"


class PayloadTooLarge(InvalidInput):
    code = "request.too_large"
    title = "Request body too large"


class AuthenticationFailed(RegistryError):
    """The bearer token is missing or failed one of the checks of SPEC section 10."""

    code = "auth.invalid"
    title = "Authentication failed"


class Forbidden(RegistryError):
    """Authenticated, but the principal's role may not use this route."""

    code = "auth.forbidden_role"
    title = "Forbidden"


class NotFound(RegistryError):
    code = "resource.not_found"
    title = "Not found"


class Conflict(RegistryError):
    code = "resource.conflict"
    title = "Conflict"


class RateLimited(RegistryError):
    code = "rate.limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code, extra={"retry_after": retry_after})
        self.retry_after = retry_after


class Unavailable(RegistryError):
    """A backing service is down; the caller should retry later."""

    code = "service.unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = retry_after
