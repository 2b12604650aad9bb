"""The risk query's lane: its two routes answered without the framework's per-request machinery.

``POST /v1/risk/query`` is what members call at refund time, and ``/batch`` its
bulk form: the registry's hot path. Litestar's routing, hooks, parameter
binding and response objects are up to a fifth of the CPU of such a request
(``docs/performance.md``, "The risk query's lane"), so the app's edge
(``http/edge.py``) hands these two exact paths, method ``POST``, to this module,
which takes the same steps as the routes through the same code, in the same
order:

1. a body announced (``Content-Length``) larger than the route's limit is
   refused before anything else, as Litestar's body reader refuses it;
2. everything the token proves from the headers alone is checked
   (``Authenticator.request_head``, the roles of the route);
3. the body is read within the route's limit, then checked against the token
   and the token's ``jti`` used up (``Authenticator.request_body``);
4. the body is decoded strictly (``common.decode_body``) into the routes' own
   structs, and the rest is the routes' own functions
   (``risk.query_result``, ``risk.batch_result``).

The limits and the roles are read from the Litestar routes themselves, and any
failure is answered by the app's own exception handlers, so a refusal is the
same problem document either way. The Litestar routes stay registered: the
OpenAPI document describes them, and they answer what the lane does not take
(another method, a path spelled otherwise, or any path when the server puts a
``root_path`` in front of it). ``tests/api/test_lane.py`` sends the same
requests, good and bad, both ways and compares the answers.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
from litestar import Litestar, Request
from litestar.exceptions import ClientException, HTTPException, InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import (
    ExceptionHandlersMap,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from refund_registry.http import problems, risk
from refund_registry.http.common import JSON, decode_body, target_of
from refund_registry.http.locale import locale_of_scope
from refund_registry.runtime import Runtime

Work = Callable[..., Awaitable[dict[str, Any]]]
"""A route's work once caller and body are known: ``(rt, caller, data, *, locale, receipt)``."""


# The lane's routes: path, body type, the work once caller and body are known.
ROUTES: Final[dict[str, tuple[type[msgspec.Struct], Work]]] = {
    "/v1/risk/query": (risk.QueryIn, risk.query_result),
    "/v1/risk/query/batch": (risk.BatchIn, risk.batch_result),
}

_JSON = JSON.encode("latin-1")
_RECEIPT = risk.RECEIPT_VERSION_HEADER.lower().encode("latin-1")


class Lane:
    """One route of the lane, an ASGI callable; built from its Litestar route."""

    __slots__ = ("body_type", "handlers", "limit", "roles", "work")

    def __init__(self, app: Litestar, path: str) -> None:
        handler = next(
            h
            for route in app.routes
            if isinstance(route, HTTPRoute) and route.path == path
            for h in route.route_handlers
            if "POST" in h.http_methods
        )
        self.body_type, self.work = ROUTES[path]
        self.limit: float = handler.resolve_request_max_body_size() or math.inf
        self.roles: frozenset[str] = handler.opt["roles"]
        self.handlers: ExceptionHandlersMap = handler.resolve_exception_handlers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._answer(scope, receive)
        except Exception as exc:  # answered as the app answers it, a problem document
            await self._refuse(scope, receive, send, exc)
            return
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", _JSON),
                (b"content-length", str(len(body)).encode("latin-1")),
            ],
        }
        await send(start)
        end: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": body,
            "more_body": False,
        }
        await send(end)

    async def _answer(self, scope: Scope, receive: Receive) -> bytes:
        authorization: str | None = None
        announced: bytes | None = None
        receipt: str | None = None
        # The first of each, as Litestar reads them; names are lower case (ASGI).
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"content-length" and announced is None:
                announced = value
            elif name == _RECEIPT and receipt is None:
                receipt = value.decode("latin-1")
        if announced is not None:
            try:
                length = int(announced)
            except ValueError:
                detail = f"Invalid content-length: {announced.decode('latin-1')!r}"
                raise ClientException(detail) from None
            if length > self.limit:
                raise RequestEntityTooLarge
        rt: Runtime = scope["app"].state.runtime
        pending = await rt.auth.request_head(
            authorization, method="POST", path_and_query=target_of(scope), roles=self.roles
        )
        body = await self._body(receive)
        caller = await rt.auth.request_body(pending, body)
        data = decode_body(body, self.body_type)
        result = await self.work(rt, caller, data, locale=locale_of_scope(scope), receipt=receipt)
        return msgspec.json.encode(result)

    async def _body(self, receive: Receive) -> bytes:
        """The whole body, refused past the limit while it streams in."""
        parts: list[bytes] = []
        size = 0
        while True:
            event = await receive()
            if event["type"] == "http.request":
                chunk = event.get("body", b"")
                if chunk:
                    size += len(chunk)
                    if size > self.limit:
                        raise RequestEntityTooLarge
                    parts.append(chunk)
                if not event.get("more_body", False):
                    return b"".join(parts)
            elif event["type"] == "http.disconnect":
                raise InternalServerException("client disconnected prematurely")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        handler = _handler_for(self.handlers, exc)
        request: Request[Any, Any, Any] = Request(scope, receive)
        response = handler(request, exc)
        await response.to_asgi_response(app=None, request=request)(scope, receive, send)


def _handler_for(handlers: ExceptionHandlersMap, exc: Exception) -> Any:
    """The handler Litestar would choose for ``exc``: an HTTP exception's status code
    first, then the exception's classes in order, then a handler of status 500."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for kind in type(exc).__mro__:
        if kind in handlers:
            return handlers[kind]
    if not isinstance(exc, HTTPException) and HTTP_500_INTERNAL_SERVER_ERROR in handlers:
        return handlers[HTTP_500_INTERNAL_SERVER_ERROR]
    return problems.internal_error_handler


def lanes(app: Litestar) -> dict[tuple[str, str], Lane]:
    """The lane's routes of ``app``, by method and path."""
    return {("POST", path): Lane(app, path) for path in ROUTES}
