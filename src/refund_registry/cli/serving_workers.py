"""``serve --workers N``: uvicorn's worker processes, each building the app after it starts.

The parent binds the socket and runs uvicorn's supervisor
(:class:`uvicorn.supervisors.Multiprocess`); every worker is a fresh
interpreter (``spawn``) that receives the settings, builds the app and opens
its own pools in the app's lifespan: nothing that holds a connection or a
thread crosses the process boundary. Every worker gets the same limits as a
single-process ``serve`` (``serving.guarded_protocol``).

What the supervisor does, and what is added here:

* a worker that dies (or stops answering its health pings) is replaced; a
  replacement that cannot start (PostgreSQL away, say) is tried again at
  most once a second, where uvicorn would stop the whole server;
* SIGTERM or SIGINT: every worker stops accepting connections and finishes
  the requests it has in flight (up to ``GRACEFUL_SHUTDOWN_SECONDS``), and
  only then does :func:`serve_workers` return, so the caller stops the
  embedded servers after the last answer; SIGHUP replaces the workers one by
  one, SIGTTIN / SIGTTOU add or remove one;
* ``on_ready`` runs once every first worker has finished its start-up.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess, Process

from refund_registry.cli.serving import ServerLimits, _config_options, guarded_protocol

log = logging.getLogger("refund_registry.cli")

WORKER_HEALTHCHECK_SECONDS = 30
START_SECONDS = 120.0
"""How long the first workers may take to start before ``serve`` stops waiting to announce."""


class WorkerConfig(uvicorn.Config):
    """A uvicorn configuration that crosses into each worker and builds the app there."""

    def __init__(self, settings: Any, limits: ServerLimits, workers: int) -> None:
        # The app and protocol are built in the worker (``load``); the import
        # string only satisfies the constructor and is never imported.
        super().__init__(
            "refund_registry.http.asgi:app_from_env",
            factory=True,
            workers=workers,
            # A worker that does not answer its supervisor's ping within this
            # many seconds is taken for hung and replaced. uvicorn's 5 s can be
            # shorter than a fresh interpreter's imports on a busy host.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            **_config_options(limits),
        )
        self.registry_settings = settings
        self.registry_limits = limits

    def load(self) -> None:
        self.http = guarded_protocol(self.registry_limits)
        super().load()

    def load_app(self) -> Any:
        from refund_registry import logs
        from refund_registry.http.app import create_app

        settings = self.registry_settings
        logs.configure(settings.log_level)
        return lambda: create_app(settings)


class Workers(Multiprocess):
    """uvicorn's supervisor, announcing readiness and never giving up on a worker."""

    def __init__(
        self, config: WorkerConfig, sockets: list[socket.socket], on_ready: Callable[[], None]
    ) -> None:
        super().__init__(config, sockets)
        self.on_ready = on_ready
        self.started = False
        self._next_start = 0.0

    def init_processes(self) -> None:
        super().init_processes()
        deadline = time.monotonic() + START_SECONDS
        for process in self.processes:
            while not process.is_ready(timeout=1):
                if self.signal_queue or not process.process.is_alive():
                    return  # the supervisor loop handles the signal or the death
                if time.monotonic() > deadline:
                    log.error("a worker did not start within %.0f s", START_SECONDS)
                    return
                time.sleep(0.05)
        self.started = True
        self.on_ready()

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE and not self.started:
                # The first start failed: the same would happen on every restart.
                log.error("a worker failed to start; stopping")
                self.should_exit.set()
                return
            now = time.monotonic()
            if now < self._next_start:
                time.sleep(self._next_start - now)
            self._next_start = time.monotonic() + 1.0
            log.warning(
                "worker process died; starting another",
                extra={"pid": process.pid, "exit_code": process.exitcode},
            )
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[index] = replacement


def serve_workers(
    settings: Any,
    sock: socket.socket,
    workers: int,
    *,
    limits: ServerLimits,
    on_ready: Callable[[], None],
) -> None:
    """Run ``workers`` API processes on ``sock`` until SIGINT/SIGTERM; return once all stopped."""
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    config = WorkerConfig(settings, limits, workers)
    sock.listen(2048)
    try:
        Workers(config, [sock], on_ready).run()
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)
