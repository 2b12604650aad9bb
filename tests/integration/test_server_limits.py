"""The request path before the body, on a real uvicorn configured as ``serve`` configures it.

Each test runs the API app under :func:`serving.server_config` on a free port
of this event loop and talks to it over a raw socket, so that what is sent,
and what is never sent, is exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import uvicorn

from refund_registry.cli import serving
from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.principals import MakePrincipal

HOST = "127.0.0.1"
GARBAGE = "Bearer eyJub3QiOiJhIHRva2VuIn0.e30.c2lnbmF0dXJl"


@contextlib.asynccontextmanager
async def running(
    settings: Settings, runtime: Runtime, limits: serving.ServerLimits
) -> AsyncIterator[int]:
    """The app served by uvicorn on a free port of this loop; yields the port."""
    sock = serving.listen(HOST, 0)
    port = int(sock.getsockname()[1])
    app = create_app(settings, runtime_override=runtime)
    server = uvicorn.Server(serving.server_config(app, HOST, port, limits))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert not task.done(), task.exception()
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(HOST, port)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer: status, headers (lower-cased names), body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def _closed(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed the connection (EOF or reset)."""
    try:
        return await reader.read(65536) == b""
    except ConnectionResetError:
        return True


async def _open_replay_store(runtime: Runtime) -> None:
    """A first claim on the fresh replay store, so that tokens signed from now on are new to it."""
    assert await runtime.auth.replay.claim("test:open-the-store", 5)


def _head(method: str, path: str, *headers: str) -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", f"Host: {HOST}", *headers, "", ""]).encode()


async def test_a_garbage_token_is_refused_before_its_announced_body_is_read(
    settings: Settings, runtime: Runtime
) -> None:
    async with running(settings, runtime, serving.ServerLimits()) as port:
        reader, writer = await _connect(port)
        started = time.monotonic()
        # 15 MB announced (within the bulk limit), not one byte of it sent:
        # an answer can only come if the body is never waited for.
        writer.write(
            _head(
                "POST",
                "/v1/reports/bulk",
                f"Authorization: {GARBAGE}",
                "Content-Type: application/json",
                "Content-Length: 15000000",
            )
        )
        await writer.drain()
        status, headers, body = await asyncio.wait_for(_answer(reader), 1.0)
        assert time.monotonic() - started < 1.0
        assert status == 401
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["code"] == "auth.wrong_type"  # the header names no typ
        writer.close()


async def test_a_body_announced_over_the_route_limit_is_refused_from_the_header(
    settings: Settings, runtime: Runtime
) -> None:
    async with running(settings, runtime, serving.ServerLimits()) as port:
        reader, writer = await _connect(port)
        writer.write(
            _head(
                "POST",
                "/v1/reports/bulk",
                f"Authorization: {GARBAGE}",
                f"Content-Length: {settings.max_bulk_body_bytes + 1}",
            )
        )
        await writer.drain()
        status, _, body = await asyncio.wait_for(_answer(reader), 1.0)
        assert status == 413
        assert json.loads(body)["code"] == "request.too_large"
        writer.close()


async def test_a_signed_request_still_passes_over_the_wire(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    body = b"{}"
    async with running(settings, runtime, serving.ServerLimits()) as port:
        await _open_replay_store(runtime)
        auth = member.headers("GET", "/v1/whoami", body)["Authorization"]
        reader, writer = await _connect(port)
        writer.write(
            _head("GET", "/v1/whoami", f"Authorization: {auth}", f"Content-Length: {len(body)}")
        )
        await writer.drain()
        await asyncio.sleep(0.05)  # the body follows the headers separately
        writer.write(body)
        status, _, answer = await asyncio.wait_for(_answer(reader), 5.0)
        assert status == 200, answer
        writer.close()


async def test_pipelined_and_kept_alive_answers_stay_whole_and_in_order(
    settings: Settings, runtime: Runtime
) -> None:
    """With each answer's writes held and sent together (``cli/coalescing.py``), two
    requests pipelined in one packet, then a third on the same connection, still
    get three whole answers in order."""
    async with running(settings, runtime, serving.ServerLimits()) as port:
        reader, writer = await _connect(port)
        writer.write(_head("GET", "/health/live") + _head("GET", "/v1/nothing-here"))
        await writer.drain()
        first = await asyncio.wait_for(_answer(reader), 5.0)
        second = await asyncio.wait_for(_answer(reader), 5.0)
        writer.write(_head("GET", "/health/live"))
        third = await asyncio.wait_for(_answer(reader), 5.0)
        assert [first[0], second[0], third[0]] == [200, 404, 200]
        assert first[2] == third[2]
        assert json.loads(first[2])
        assert second[1]["content-type"] == "application/problem+json"
        writer.close()


async def test_a_64_kb_header_is_answered_431_and_the_connection_closed(
    settings: Settings, runtime: Runtime
) -> None:
    async with running(settings, runtime, serving.ServerLimits(max_header_bytes=16_384)) as port:
        reader, writer = await _connect(port)
        writer.write(_head("GET", "/health/live", "X-Filler: " + "a" * 65_536))
        await writer.drain()
        status, headers, _ = await asyncio.wait_for(_answer(reader), 2.0)
        assert status == 431
        assert headers["connection"] == "close"
        assert await asyncio.wait_for(_closed(reader), 2.0)
        writer.close()


async def test_a_4_mb_header_never_reaches_the_app(settings: Settings, runtime: Runtime) -> None:
    """Sent without its end: refused once 16 KiB have arrived, long before 4 MB."""
    async with running(settings, runtime, serving.ServerLimits(max_header_bytes=16_384)) as port:
        reader, writer = await _connect(port)
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Filler: ")
        answer = b""
        with contextlib.suppress(ConnectionError):
            for _ in range(64):  # 4 MB in 64 KB pieces, unless the server hangs up first
                writer.write(b"a" * 65_536)
                await writer.drain()
        with contextlib.suppress(ConnectionError):
            answer = await asyncio.wait_for(reader.read(65_536), 2.0)
        # The 431 is written before the close; a reset may overtake it while
        # unread bytes are still on their way, and then only the close is seen.
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")
        assert await asyncio.wait_for(_closed(reader), 2.0)
        writer.close()


async def test_headers_under_the_limit_are_served(settings: Settings, runtime: Runtime) -> None:
    async with running(settings, runtime, serving.ServerLimits(max_header_bytes=16_384)) as port:
        reader, writer = await _connect(port)
        writer.write(_head("GET", "/health/live", "X-Filler: " + "a" * 8_000))
        await writer.drain()
        status, _, _ = await asyncio.wait_for(_answer(reader), 2.0)
        assert status == 200
        writer.close()


async def test_headers_trickled_slower_than_the_timeout_close_the_connection(
    settings: Settings, runtime: Runtime
) -> None:
    limits = serving.ServerLimits(header_timeout=1.0)
    async with running(settings, runtime, limits) as port:
        reader, writer = await _connect(port)
        started = time.monotonic()
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        closed = asyncio.ensure_future(_closed(reader))
        # One byte every 0.1 s keeps the connection busy, never finishing the head.
        while not closed.done() and time.monotonic() - started < 5:
            with contextlib.suppress(ConnectionError):
                writer.write(b"X")
                await writer.drain()
            await asyncio.sleep(0.1)
        assert await closed
        assert 0.9 <= time.monotonic() - started < 2.0
        writer.close()


async def test_a_silent_connection_is_closed_at_the_header_timeout(
    settings: Settings, runtime: Runtime
) -> None:
    limits = serving.ServerLimits(header_timeout=1.0)
    async with running(settings, runtime, limits) as port:
        reader, writer = await _connect(port)
        started = time.monotonic()
        assert await asyncio.wait_for(_closed(reader), 3.0)
        assert 0.9 <= time.monotonic() - started < 2.0
        writer.close()


async def test_the_head_deadline_is_armed_again_after_each_answer(
    settings: Settings, runtime: Runtime
) -> None:
    limits = serving.ServerLimits(header_timeout=1.0, keep_alive=30)
    async with running(settings, runtime, limits) as port:
        reader, writer = await _connect(port)
        writer.write(_head("GET", "/health/live"))
        status, _, _ = await asyncio.wait_for(_answer(reader), 2.0)
        assert status == 200
        started = time.monotonic()
        writer.write(b"GET /health/live HTTP/1.1\r\n")  # half a head, then nothing
        assert await asyncio.wait_for(_closed(reader), 3.0)
        assert time.monotonic() - started < 2.0
        writer.close()


async def test_beyond_the_concurrency_limit_requests_get_503(
    settings: Settings, runtime: Runtime
) -> None:
    async with running(settings, runtime, serving.ServerLimits(max_concurrency=2)) as port:
        idle = [await _connect(port) for _ in range(2)]
        await asyncio.sleep(0.05)
        reader, writer = await _connect(port)
        writer.write(_head("GET", "/health/live"))
        status, _, _ = await asyncio.wait_for(_answer(reader), 2.0)
        assert status == 503
        writer.close()
        for _, idle_writer in idle:
            idle_writer.close()


async def test_a_refused_body_does_not_use_up_the_jti(
    api: Api, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    await _open_replay_store(runtime)
    headers = member.headers("GET", "/v1/whoami", b"{}")
    wrong = await api.client.request("GET", "/v1/whoami", content=b"{ }", headers=headers)
    assert_problem(wrong, 401, "auth.body_mismatch")
    right = await api.client.request("GET", "/v1/whoami", content=b"{}", headers=headers)
    assert right.status_code == 200, right.text
    again = await api.client.request("GET", "/v1/whoami", content=b"{}", headers=headers)
    assert_problem(again, 401, "auth.replayed")
