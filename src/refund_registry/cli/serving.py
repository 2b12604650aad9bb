"""Running an ASGI app under uvicorn until SIGINT/SIGTERM, with clean-up that runs.

uvicorn finishes a graceful shutdown on SIGINT/SIGTERM and then re-raises the
signal, which would kill the process before the caller's context managers
(embedded servers, folder locks, child processes) could clean up. Here the
re-raised signal becomes an exception that is swallowed, so ``serve`` returns
normally and everything around it unwinds.

The listening socket is bound before uvicorn starts, so that an address in
use is one clear :class:`~refund_registry.cli.common.CommandError` rather than
a log line and an exit from inside the server.

Limits before the application (:class:`ServerLimits`): uvicorn bounds idle
keep-alive connections and the number of concurrent connections and tasks
(beyond it a request gets uvicorn's plain ``503 Service Unavailable``), but on
its default parser (httptools) it bounds neither the size of a request's head
nor the time it may take to arrive, and on either parser it arms no timer
before a connection's first request. :func:`guarded_protocol` adds both on
top of uvicorn's httptools protocol: a head (request line and headers) larger
than ``max_header_bytes`` is answered ``431`` and the connection closed; a
head not complete within ``header_timeout`` seconds of the connection opening
(or of the previous answer) has its connection closed without an answer.
The body is left to the application, which refuses a bad token before
reading it (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from refund_registry.cli.common import CommandError


class _Stopped(Exception):
    pass


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise _Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: any free one), or a CommandError.

    Bound, not yet listening: connections are refused, not left waiting in a
    backlog, until the server starts listening on it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CommandError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def free_port(host: str) -> int:
    """A port nobody listens on right now (the caller binds it soon after)."""
    with listen(host, 0) as sock:
        return int(sock.getsockname()[1])


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What the server allows a connection before the application sees a request.

    The defaults are those of the settings (``REGISTRY_MAX_HEADER_BYTES``,
    ``REGISTRY_HEADER_TIMEOUT_SECONDS``, ``REGISTRY_KEEP_ALIVE_SECONDS``,
    ``REGISTRY_MAX_CONCURRENCY``).
    """

    max_header_bytes: int = 16_384
    header_timeout: float = 10.0
    keep_alive: int = 5
    max_concurrency: int = 1000
    forwarded_allow_ips: tuple[str, ...] = ()
    """Proxies whose ``X-Forwarded-*`` headers are believed (``REGISTRY_FORWARDED_ALLOW_IPS``)."""

    @classmethod
    def of(cls, settings: Any) -> ServerLimits:
        """The limits a :class:`~refund_registry.config.Settings` names."""
        return cls(
            max_header_bytes=settings.max_header_bytes,
            header_timeout=settings.header_timeout_seconds,
            keep_alive=settings.keep_alive_seconds,
            max_concurrency=settings.max_concurrency,
            forwarded_allow_ips=tuple(settings.forwarded_allow_ips),
        )


_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 37\r\n"
    b"connection: close\r\n\r\n"
    b"the request line and headers too long"
)


_REQUEST_LINE_EXTRA = 16
"""The request line's method, version, spaces and line ends, roughly."""


class _HeadTooLarge(Exception):
    pass


def guarded_protocol(limits: ServerLimits) -> type[Any]:
    """uvicorn's httptools protocol with a bound on the size and time of a request's head,
    writing each answer in one piece (``cli/coalescing.py``).

    Bytes are counted from the start of each request's head until its
    headers are complete; past ``max_header_bytes`` the answer is ``431``. A
    deadline, armed when the connection opens and again after each answer
    (unless a pipelined request is already waiting), closes a connection
    whose next head has not arrived in full within ``header_timeout``:
    trickling bytes does not extend it, as uvicorn's keep-alive timer would.
    """
    from refund_registry.cli.coalescing import CoalescingHttpTools

    class GuardedHttpTools(CoalescingHttpTools):
        _head_bytes = 0  # bytes received since the head began (a body may follow in them)
        _head_fields = 0  # bytes of the head itself, as parsed
        _awaiting_head = False
        _refused = False
        _head_deadline: Any = None

        def _arm(self) -> None:
            self._disarm()
            self._awaiting_head = True
            self._head_bytes = self._head_fields = 0
            self._head_deadline = self.loop.call_later(limits.header_timeout, self._head_too_slow)

        def _disarm(self) -> None:
            self._awaiting_head = False
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _head_too_slow(self) -> None:
            self._head_deadline = None
            if self._awaiting_head and not self.transport.is_closing():
                self.transport.close()

        def _refuse_head(self) -> None:
            self._disarm()
            self._refused = True
            if not self.transport.is_closing():
                self.transport.write(_431)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._awaiting_head:
                self._head_bytes += len(data)
            super().data_received(data)
            # A head still incomplete: every byte so far belongs to it.
            if self._awaiting_head and self._head_bytes > limits.max_header_bytes:
                self._refuse_head()

        def on_url(self, url: bytes) -> None:
            self._head_fields += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_fields += len(name) + len(value) + 4
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            if self._head_fields + _REQUEST_LINE_EXTRA > limits.max_header_bytes:
                # Complete but too large (it arrived in one read): refused before
                # the application sees it. Raising stops the parser here.
                self._refuse_head()
                raise _HeadTooLarge
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._arm()

        def send_400_response(self, msg: str) -> None:
            if not self._refused:  # the parser's error after a 431 is not answered again
                super().send_400_response(msg)

    return GuardedHttpTools


def _config_options(limits: ServerLimits) -> dict[str, Any]:
    """The uvicorn options ``serve`` runs with, one process or several."""
    return {
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "timeout_keep_alive": limits.keep_alive,
        "limit_concurrency": limits.max_concurrency,
        # Only read by uvicorn's h11 parser, should it ever be chosen instead.
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        # X-Forwarded-For rewrites the client address (which /metrics trusts),
        # so it is believed only from the proxies listed; by default from none
        # (uvicorn's own default trusts any loopback client).
        "proxy_headers": bool(limits.forwarded_allow_ips),
        "forwarded_allow_ips": list(limits.forwarded_allow_ips) or None,
    }


GRACEFUL_SHUTDOWN_SECONDS = 10
"""Seconds a stopping process lets requests in flight finish before it closes them."""


def server_config(app: Any, host: str, port: int, limits: ServerLimits) -> Any:
    """The uvicorn configuration ``serve`` runs ``app`` with."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, http=guarded_protocol(limits), **_config_options(limits)
    )


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    on_ready: Callable[[], None] | None = None,
    limits: ServerLimits | None = None,
) -> None:
    """Serve ``app`` on ``host:port`` (or on ``sock``) until SIGINT/SIGTERM.

    ``on_ready`` runs once the app's start-up has finished and the socket
    accepts requests. Returns after a graceful stop; raises CommandError when
    the address is taken or the app's start-up fails.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if on_ready is not None and not self.should_exit:
                on_ready()

    listener = sock if sock is not None else listen(host, port)
    config = server_config(app, host, port, limits or ServerLimits())
    with listener, _signals_raise(), contextlib.suppress(_Stopped, KeyboardInterrupt):
        try:
            Server(config).run(sockets=[listener])
        except SystemExit as exc:  # uvicorn's answer to a failed start-up
            raise CommandError(
                f"the server on {host}:{port} did not start (see the log lines above)"
            ) from exc
