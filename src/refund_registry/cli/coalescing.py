"""Answers written after the tick: uvicorn's httptools protocol with its writes held until then.

uvicorn writes an answer's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``,
each at once: two ``send`` system calls and two TCP segments for every
answer, made in the middle of the event loop's work. :class:`CoalescingTransport`
holds what is written during one event-loop tick and hands it to the
socket's transport in one write on the next, so an answer leaves in one
piece, and the answers of one tick leave together.

The second part is most of the gain: writing each complete answer at once,
in one piece, gives back most of it (``docs/performance.md``, "One write per
answer": the bare route 57 against 81 µs of CPU, the signed query 345
against 401 µs). Answers that leave together come back as requests
together, and the event loop then serves more of them per pass. The price
is latency: an answer waits for the rest of its tick's work, which the
single queries beside batch queries did not show (their p50 and p99 stayed
within the noise).

Nothing is held longer than that tick, nor more than :data:`HOLD_AT_MOST`
bytes; a write of that size or more is not copied but written straight
after what is held. ``close``, ``write_eof`` and ``abort`` deal with what is
held first, so the bytes and their order are exactly uvicorn's, and the
socket's transport still pauses uvicorn when its buffer is full.

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
    """A transport whose writes of one event-loop tick reach ``transport`` together on
    the next (sooner past :data:`HOLD_AT_MOST` bytes). Every other attribute is the
    wrapped transport's own."""

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
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn's flow control keeps the socket's own transport; answers and
        # refusals are written through this one.
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
