"""A bridge from the synchronous SDK, in a worker thread, to an ASGI app on the test's loop."""

from __future__ import annotations

import asyncio

import httpx
from litestar import Litestar


class LoopBridge(httpx.BaseTransport):
    """Lets the synchronous SDK, in a worker thread, call an ASGI app on the test's loop."""

    def __init__(self, app: Litestar, loop: asyncio.AbstractEventLoop) -> None:
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")
        self.loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            response = await self.client.request(
                request.method,
                request.url.raw_path.decode("ascii"),
                content=request.content,
                headers=request.headers,
            )
            await response.aread()
            return response

        answer = asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=30)
        return httpx.Response(
            answer.status_code, headers=answer.headers.multi_items(), content=answer.content
        )
