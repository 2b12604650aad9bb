"""One write per answer: uvicorn's httptools protocol with its writes of one tick sent together.

uvicorn writes an answer's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``:
two ``send`` system calls and two TCP segments for every answer, and a client
that wakes up twice to read it. An answer's messages are sent within one
event-loop tick (nothing in between waits), so :class:`CoalescingTransport`
keeps what is written during a tick and hands it to the socket's transport
in one write on the next. On this machine that is about a third of the CPU of
a bare ``GET /health/live`` (``docs/performance.md``, "One write per answer").

Nothing is held past the tick, and ``close`` writes what is held first, so the
bytes and their order are exactly uvicorn's. Flow control is unchanged: the
socket's transport still pauses the protocol when its buffer is full, and
uvicorn still waits for it to drain before the next write.

``serve`` runs :func:`refund_registry.cli.serving.guarded_protocol`, which
builds on :class:`CoalescingHttpTools`; the benchmarks name this class to
uvicorn (``--http refund_registry.cli.coalescing:CoalescingHttpTools``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes of one event-loop tick reach ``transport`` as one write.

    Every other attribute is the wrapped transport's own.
    """

    __slots__ = ("_held", "_loop", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        """Hand what is held to the transport now (nothing, once it is closing)."""
        held = self._held
        if held:
            self._held = []
            if not self.transport.is_closing():
                self.transport.write(b"".join(held))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CoalescingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn's flow control keeps the socket's own transport; answers and
        # refusals are written through this one.
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
