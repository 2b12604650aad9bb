"""Running an ASGI app under uvicorn until SIGINT/SIGTERM, with clean-up that runs.

uvicorn finishes a graceful shutdown on SIGINT/SIGTERM and then re-raises the
signal, which would kill the process before the caller's context managers
(embedded servers, folder locks, child processes) could clean up. Here the
re-raised signal becomes an exception that is swallowed, so ``serve`` returns
normally and everything around it unwinds.

The listening socket is bound before uvicorn starts, so that an address in
use is one clear :class:`~refund_registry.cli.common.CommandError` rather than
a log line and an exit from inside the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
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


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    on_ready: Callable[[], None] | None = None,
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
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    with listener, _signals_raise(), contextlib.suppress(_Stopped, KeyboardInterrupt):
        try:
            Server(config).run(sockets=[listener])
        except SystemExit as exc:  # uvicorn's answer to a failed start-up
            raise CommandError(
                f"the server on {host}:{port} did not start (see the log lines above)"
            ) from exc
