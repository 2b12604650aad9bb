"""The coalescing transport: writes of one tick reach the socket's transport as one write.

A recording stand-in for the socket's transport, on a real event loop; the
protocol over a real uvicorn is in ``tests/integration/test_server_limits.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.cli import serving
from refund_registry.cli.coalescing import HOLD_AT_MOST, CoalescingHttpTools, CoalescingTransport


class Recording:
    """The calls a transport receives, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def write_eof(self) -> None:
        self.calls.append(("write_eof", None))

    def abort(self) -> None:
        self.calls.append(("abort", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 9) if name == "peername" else None


def _tick() -> asyncio.Future[None]:
    """Resolves once the callbacks already scheduled on the loop have run."""
    return asyncio.sleep(0)


async def test_the_writes_of_one_tick_leave_together_on_the_next() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert sent.calls == []  # nothing before the tick ends
    await _tick()
    assert sent.calls == [("write", b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")]


async def test_writes_of_different_ticks_leave_apart_in_order() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"a")
    await _tick()
    transport.write(b"b")
    transport.write(b"c")
    await _tick()
    await _tick()  # nothing held: nothing more is written
    assert sent.calls == [("write", b"a"), ("write", b"bc")]


async def test_close_writes_what_is_held_first() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 431 \r\nconnection: close\r\n\r\n")
    transport.close()
    await _tick()  # the flush scheduled by the write finds nothing left
    assert sent.calls == [("write", b"HTTP/1.1 431 \r\nconnection: close\r\n\r\n"), ("close", None)]


async def test_nothing_is_written_to_a_transport_already_closing() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"late")
    sent.closing = True  # the client went away during the tick
    await _tick()
    assert sent.calls == []


async def test_a_large_write_is_not_held_nor_copied_and_goes_after_what_is_held() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    body = b"x" * HOLD_AT_MOST
    transport.write(b"head")
    transport.write(body)
    assert sent.calls == [("write", b"head"), ("write", body)]  # at once, in order
    assert sent.calls[1][1] == body


async def test_what_is_held_is_written_once_it_reaches_the_bound() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    piece = b"y" * (HOLD_AT_MOST // 4)
    for _ in range(4):
        transport.write(piece)
    assert sent.calls == [("write", piece * 4)]  # before the tick ends
    transport.write(b"z")
    await _tick()
    assert sent.calls == [("write", piece * 4), ("write", b"z")]


async def test_writelines_write_eof_and_abort_respect_what_is_held() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.writelines([b"a", b"b"])
    transport.write_eof()
    assert sent.calls == [("write", b"ab"), ("write_eof", None)]
    transport.write(b"dropped")
    transport.abort()  # an abort drops what was not sent, as the socket's transport does
    await _tick()
    assert sent.calls == [("write", b"ab"), ("write_eof", None), ("abort", None)]


def test_serve_writes_through_the_coalescing_protocol() -> None:
    assert issubclass(serving.guarded_protocol(serving.ServerLimits()), CoalescingHttpTools)


async def test_everything_else_is_the_transports_own() -> None:
    sent = Recording()
    transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 9)
    assert transport.is_closing() is False
    sent.closing = True
    assert transport.is_closing() is True


@given(st.lists(st.lists(st.binary(max_size=20), max_size=4), max_size=5))
def test_the_bytes_and_their_order_are_unchanged(ticks: list[list[bytes]]) -> None:
    """Whatever is written over several ticks arrives whole and in order, one write per
    tick that wrote anything."""

    async def run() -> Recording:
        sent = Recording()
        transport = CoalescingTransport(sent, asyncio.get_running_loop())  # type: ignore[arg-type]
        for writes in ticks:
            for data in writes:
                transport.write(data)
            await _tick()
        return sent

    sent = asyncio.run(run())
    assert [data for _, data in sent.calls] == [b"".join(w) for w in ticks if w]
