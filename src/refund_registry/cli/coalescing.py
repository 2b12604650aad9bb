"""One write per answer: uvicorn's httptools protocol with an answer's writes sent together.

uvicorn writes an answer's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``:
two ``send`` system calls and two TCP segments for every answer, and a client
that wakes up twice to read it. :class:`CoalescingTransport` holds small
writes instead, and :class:`CoalescingHttpTools` hands them to the socket's
transport in one write as soon as the answer is complete (uvicorn's
``on_response_complete``, called from the last ``send``). On this machine
that is about a third of the CPU of a bare ``GET /health/live``
(``docs/performance.md``, "One write per answer").

Nothing is held for long: a partial answer (a streamed body) goes out on the
next event-loop tick at the latest, and at once when what is held reaches
:data:`HOLD_AT_MOST` bytes; a write of that size or more is not copied but
written straight after what is held. ``close``, ``write_eof`` and
``abort`` deal with what is held first, so the bytes and their order are
exactly uvicorn's, and the socket's transport still pauses uvicorn when its
buffer is full.

``serve`` runs :func:`refund_registry.cli.serving.guarded_protocol`, which
builds on :class:`CoalescingHttpTools`; the benchmarks name this class to
uvicorn (``--http refund_registry.cli.coalescing:CoalescingHttpTools``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HOLD_AT_MOST = 65_536
"""Bytes held before they are written anyway (uvicorn's own write buffer high-water mark)."""


class CoalescingTransport:
    """A transport whose small writes reach ``transport`` together, at the latest on the
    next event-loop tick. Every other attribute is the wrapped transport's own."""

    __slots__ = ("_held", "_loop", "_size", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if len(data) >= HOLD_AT_MOST:  # large: not copied, written after what is held
            self.flush()
            if not self.transport.is_closing():
                self.transport.write(data)
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._size += len(data)
        if self._size >= HOLD_AT_MOST:
            self.flush()

    def writelines(self, pieces: Any) -> None:
        for data in pieces:
            self.write(data)

    def flush(self) -> None:
        """Hand what is held to the transport now (nothing, once it is closing)."""
        held = self._held
        if held:
            self._held = []
            self._size = 0
            if not self.transport.is_closing():
                self.transport.write(b"".join(held))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def abort(self) -> None:
        self._held = []
        self._size = 0
        self.transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CoalescingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`,
    each complete answer as soon as its last part is written."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn's flow control keeps the socket's own transport; answers and
        # refusals are written through this one.
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()
