"""The app over in-process HTTP, signed requests to it, and the shape of its refusals."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import msgspec

if TYPE_CHECKING:
    from refund_registry.client.signing import Signer
    from refund_registry.config import Settings
    from refund_registry.runtime import Runtime


# Apps idle between tests, by what they were built from. Building one registers
# every route with Litestar (~0.1-0.25 s), and most tests differ only in their
# own database and folder, which no route reads: each request finds the test's
# runtime in ``app.state``. An app serves one client at a time.
_IDLE_APPS: dict[tuple[tuple[str, str], ...], list[Any]] = {}
_PER_TEST = frozenset({"data_dir", "database_url", "owner_database_url"})


def _built_from(settings: Settings) -> tuple[tuple[str, str], ...]:
    return tuple(
        (f.name, repr(getattr(settings, f.name)))
        for f in dataclasses.fields(settings)
        if f.name not in _PER_TEST
    )


class _AppTransport(httpx.ASGITransport):
    """Gives its app back to the idle ones when its client closes."""

    def __init__(self, app: Any, built_from: tuple[tuple[str, str], ...]) -> None:
        super().__init__(app=app)
        self.built_from: tuple[tuple[str, str], ...] | None = built_from

    async def aclose(self) -> None:
        if self.built_from is not None:
            _IDLE_APPS.setdefault(self.built_from, []).append(self.app)
            self.built_from = None
        await super().aclose()


def asgi_client(settings: Settings, runtime: Runtime) -> httpx.AsyncClient:
    """An HTTP client calling the app in this event loop (the runtime's loop)."""
    from refund_registry.http.app import create_app

    built_from = _built_from(settings)
    idle = _IDLE_APPS.get(built_from)
    app = idle.pop() if idle else create_app(settings, runtime_override=runtime)
    app.state.runtime = runtime
    return httpx.AsyncClient(transport=_AppTransport(app, built_from), base_url="http://registry")


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A runtime of its own for ``settings`` (another process, in effect) and a client to it."""
    from refund_registry.runtime import Runtime

    rt = await Runtime.start(settings)
    try:
        async with asgi_client(settings, rt) as test_client:
            yield test_client
    finally:
        await rt.close()


class Api:
    """Sends signed requests through an HTTP client (in-process or over a socket)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(
        self,
        signer: Signer | None,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = raw if raw is not None else (b"" if body is None else msgspec.json.encode(body))
        sent = dict(headers or {})
        if signer is not None and "Authorization" not in sent:
            sent.update(signer.headers(method, path, data))
        if data:
            sent.setdefault("Content-Type", "application/json")
        return await self.client.request(method, path, content=data, headers=sent)


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status (and code)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status
    assert {"type", "title", "detail", "code"} <= set(doc)
    if code is not None:
        assert doc["code"] == code, doc
    return doc
