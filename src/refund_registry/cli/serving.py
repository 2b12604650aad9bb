"""Running an ASGI app under uvicorn until SIGINT/SIGTERM, with clean-up that runs.

uvicorn finishes a graceful shutdown on SIGINT/SIGTERM and then re-raises the
signal, which would kill the process before the caller's context managers
(embedded servers, folder locks, child processes) could clean up. Here the
re-raised signal becomes an exception that is swallowed, so ``serve`` returns
normally and everything around it unwinds.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


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


def serve(app: Any, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT/SIGTERM; return after a graceful stop."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    with _signals_raise(), contextlib.suppress(_Stopped, KeyboardInterrupt):
        uvicorn.Server(config).run()
