"""The app's outermost layer of its own: what every HTTP answer gets, in one ``send`` wrapper.

Two things happen to every answer, including those Litestar gives itself (a
route that does not exist, a body too large): the answer's language is
announced (:func:`~refund_registry.http.locale.announce_language`) and the
request is counted and timed per route
(:mod:`~refund_registry.http.request_metrics`). Both used to be framework
plumbing, a ``before_send`` hook called for every message (the start and each
body part) and Litestar's Prometheus middleware, which also made every route
carry an extra exception-handling layer; together they were about a third of
the bare route's cost (``docs/performance.md``, "Framework overhead per
request").

The layer wraps the handler Litestar builds around its router
(:func:`install`), so it sees the scope as routing leaves it: the route's
template in ``path_template`` for the metrics, and the path the language rule
reads, exactly where the hook used to see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from refund_registry.http import lane, request_metrics
from refund_registry.http.locale import announce_language


class Edge:
    """ASGI wrapper: language headers on the response start, the metrics once it is sent.

    ``lanes`` answers a few hot routes itself, by method and exact path
    (``http/lane.py``); everything else goes to Litestar.
    """

    __slots__ = ("app", "lanes")

    def __init__(
        self, app: ASGIApp, lanes: Mapping[tuple[str, str], ASGIApp] | None = None
    ) -> None:
        self.app = app
        self.lanes = dict(lanes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        status = 0
        sent = 0.0

        async def answer(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                announce_language(message, scope)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                sent = perf_counter()  # the last part of the body: the answer is out
            await send(message)

        path = scope["path"]
        lane = self.lanes.get((scope["method"], path))
        try:
            if lane is None:
                await self.app(scope, receive, answer)
            else:
                scope["path_template"] = path  # what routing would leave: the path is exact
                await lane(scope, receive, answer)
        finally:
            template = scope.get("path_template")
            if template is not None:
                # No start sent means the app failed past its exception handlers.
                end = sent or perf_counter()
                request_metrics.record(scope["method"], template, status or 500, end - start)


def install(app: Litestar) -> Litestar:
    """Put :class:`Edge` around the handler Litestar built around its router, with the
    risk query's lane."""
    app.asgi_handler = Edge(app.asgi_handler, lane.lanes(app))
    return app
