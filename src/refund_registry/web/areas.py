"""The portal's and the console's error pages for requests no page handler answered.

An unknown path under ``/portal`` or ``/console`` (or a method a path does not
take) is refused by Litestar's router before any handler of the area runs, so
the area's own exception handlers never see it and the application's handler
would answer the API's JSON problem. :func:`pages_first` puts the area's HTML
error page in front of that handler for those paths: in the visitor's language
and with the security headers every page carries. Everything else, the JSON
API under ``/v1`` included, keeps its problem documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from refund_registry.web import pages
from refund_registry.web.console import guard
from refund_registry.web.security import PATH as PORTAL_PATH
from refund_registry.web.security import page_headers

Handler = Callable[[Request[Any, Any, Any], HTTPException], Response[Any]]


def _under(path: str, area: str) -> bool:
    return path == area or path.startswith(area + "/")


def pages_first(api: Handler) -> Handler:
    """``api`` for every path but the portal's and the console's, which get their own page."""

    def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
        path = str(request.scope.get("path", ""))
        if _under(path, PORTAL_PATH):
            answer = pages.http_error(request, exc)
        elif _under(path, guard.PATH):
            answer = guard.http_error(request, exc)
        else:
            return api(request, exc)
        answer.headers.update(page_headers())
        return answer

    return handler
