"""``refund-registry serve``: the API, with the key service as a child in zero-setup mode.

Unless ``REGISTRY_KEYSERVICE_URL`` names a key service elsewhere, ``serve``
starts one as a child process on a free port of its own (or on
``--keyservice-port`` / ``REGISTRY_KEYSERVICE_PORT``), waits until it answers,
and points the API's key-service URL at it: two ``serve`` processes on one
host each talk to their own key service. A child that cannot bind its port or
dies during start-up stops ``serve`` with one clear line.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any, TextIO

from refund_registry.cli import boundaries, serving
from refund_registry.cli.common import (
    CommandError,
    backing_servers,
    exclusive,
    load_settings,
    log,
    migrate_schema,
)
from refund_registry.config import Settings

KEYSERVICE_START_SECONDS = 60.0
"""How long the key-service child may take to answer (it attaches, migrates, loads its key)."""


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    defaults = Settings()
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the API (zero-setup without URLs)",
        description="Migrate, ensure keys, start the key service as a child process (unless "
        "REGISTRY_KEYSERVICE_URL is set) and serve the API until SIGINT/SIGTERM.",
    )
    serve.add_argument(
        "--port",
        type=int,
        help=f"port of the API (default: $REGISTRY_PORT, else {defaults.port})",
    )
    serve.add_argument(
        "--host",
        help="address the API and its key-service child listen on "
        f"(default: $REGISTRY_HOST, else {defaults.host})",
    )
    serve.add_argument(
        "--keyservice-port",
        type=int,
        metavar="PORT",
        help="port of the key-service child (default: $REGISTRY_KEYSERVICE_PORT, "
        "else a free port chosen at start)",
    )
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.http.app import create_app
    from refund_registry.storage import keyfiles

    settings = load_settings(args)
    settings = with_public_url(settings)
    refusals = boundaries.serve_refusals(settings)
    if refusals:
        raise CommandError("refusing to start: " + "; ".join(refusals))
    with exclusive(settings.data_dir, "serve"):
        # Both ports are settled before any server starts: a taken one fails at once.
        api_socket = serving.listen(settings.host, settings.port)
        try:
            if not settings.keyservice_url:
                settings = settings.with_overrides(keyservice_port=_keyservice_port(args, settings))
                settings = settings.with_overrides(keyservice_url=_child_url(settings))
                child_wanted = True
            else:
                child_wanted = False
            with backing_servers(settings) as live:
                applied = migrate_schema(live)
                if applied:
                    log.info("schema migrated", extra={"applied": applied})
                role_problems = asyncio.run(boundaries.login_role_refusals(live))
                if role_problems:
                    raise CommandError("refusing to start: " + "; ".join(role_problems))
                if child_wanted:
                    boundaries.zero_setup_notice(live)
                generate = live.environment != "production"
                keyfiles.ensure_ed25519(live.key_path("log"), generate=generate)
                keyfiles.load_keyring_keys(live.key_path("registry"), generate=generate)
                child = KeyServiceChild.start(live) if child_wanted else None
                try:
                    if child is not None:
                        child.wait_until_answering(KEYSERVICE_START_SECONDS)
                    serving.serve(
                        create_app(live),
                        live.host,
                        live.port,
                        sock=api_socket,
                        on_ready=lambda: _announce(live, child, out),
                        limits=serving.ServerLimits.of(live),
                    )
                finally:
                    if child is not None:
                        child.stop()
        finally:
            api_socket.close()
    log.info("stopped")
    return 0


def with_public_url(settings: Settings) -> Settings:
    """Outside production, the public URL follows ``--host``/``--port`` unless it was set.

    The risk answer's notice sends buyers to ``{public_url}/portal``; on a
    laptop that must be the address this ``serve`` really listens on.
    """
    if "public_url" in settings.given or settings.environment == "production":
        return settings
    host = settings.host
    if host in ("", "0.0.0.0"):  # noqa: S104 - compared, not bound
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return settings.with_overrides(public_url=f"http://{host}:{settings.port}")


def _announce(live: Settings, child: KeyServiceChild | None, out: TextIO) -> None:
    """The API accepts requests and its key service answers: say so, once."""
    url = f"http://{live.host}:{live.port}"
    log.info(
        "serving",
        extra={"url": url, "keyservice_url": live.keyservice_url, "data_dir": str(live.data_dir)},
    )
    out.write(
        f"Refund Registry ready at {url} (key service {live.keyservice_url}, "
        f"data in {live.data_dir})\n"
    )
    out.flush()
    if child is not None:
        child.watch()


def _keyservice_port(args: argparse.Namespace, live: Settings) -> int:
    """``--keyservice-port``, else ``REGISTRY_KEYSERVICE_PORT``, else a free port.

    A port that is given must be free now: were another key service there,
    the API would quietly talk to it while this child failed to bind.
    """
    if args.keyservice_port is not None:
        port, source = int(args.keyservice_port), "--keyservice-port"
    elif "keyservice_port" in live.given:
        port, source = live.keyservice_port, "REGISTRY_KEYSERVICE_PORT"
    else:
        return serving.free_port(live.host)
    if port == live.port:
        raise CommandError(f"{source} {port} is the API's own port; pick another")
    try:
        serving.listen(live.host, port).close()
    except CommandError as exc:
        raise CommandError(
            f"cannot use {source} {port} for the key service: {exc}; "
            "pick another port, or leave it unset to use a free one"
        ) from None
    return port


def _child_url(live: Settings) -> str:
    from refund_registry.http.keyservice_proxy import keyservice_base_url

    return keyservice_base_url(live)


class KeyServiceChild:
    """The key service as a child process, its stderr relayed to ours line by line.

    The relay keeps the last lines, so that a child that dies can be explained
    in one line (its own last error) rather than by a silent 503 later.
    """

    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url
        self.last_lines: collections.deque[str] = collections.deque(maxlen=20)
        self._stopping = False
        self._relay = threading.Thread(target=self._relay_stderr, daemon=True)
        self._relay.start()

    @classmethod
    def start(cls, live: Settings) -> KeyServiceChild:
        """Start ``refund-registry keyservice`` on ``live.keyservice_port``.

        It gets the resolved URLs, so it uses the parent's embedded servers; the
        API process never opens the key service's key.
        """
        env = {
            **os.environ,
            # The key service logs in as its own role; it never gets the owner's URL.
            "DATABASE_URL": live.keyservice_database_url or live.database_url,
            "REDIS_URL": live.redis_url,
            "REGISTRY_HOST": live.host,
            "REGISTRY_KEYSERVICE_PORT": str(live.keyservice_port),
            # Members sign key-service requests for the registry's audience.
            "REGISTRY_AUDIENCE": live.audience,
        }
        env.pop("REGISTRY_OWNER_DATABASE_URL", None)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "refund_registry",
                "keyservice",
                "--data-dir",
                str(live.data_dir),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,  # a one-line prctl before exec
        )
        log.info(
            "key service starting",
            extra={"pid": process.pid, "url": live.keyservice_url},
        )
        return cls(process, live.keyservice_url)

    def _relay_stderr(self) -> None:
        stream: IO[bytes] | None = self.process.stderr
        if stream is None:
            return
        target: IO[bytes] | None = getattr(sys.stderr, "buffer", None)
        for raw in stream:
            line = raw.decode("utf-8", "replace").strip()
            if target is not None:
                target.write(raw)
                target.flush()
            else:
                sys.stderr.write(line + "\n")
            if line:
                self.last_lines.append(line)

    def _reason(self) -> str:
        """The child's last error, as a short text."""
        self._relay.join(timeout=2)  # the pipe closes when the child is gone
        for line in reversed(self.last_lines):
            try:
                entry = json.loads(line)
            except ValueError:
                return line.removeprefix("refund-registry: ")
            if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
                return str(entry.get("message", line))
        return "no error message (see the log lines above)"

    def wait_until_answering(self, seconds: float) -> None:
        """Return once the child answers ``/health/live``; raise CommandError if it dies first."""
        import httpx

        deadline = time.monotonic() + seconds
        with httpx.Client(timeout=1.0) as client:
            while True:
                status = self.process.poll()
                if status is not None:
                    raise CommandError(
                        f"the key service did not start on {self.url} "
                        f"(exit status {status}): {self._reason()}"
                    )
                try:
                    if client.get(f"{self.url}/health/live").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise CommandError(
                        f"the key service did not answer on {self.url} within {seconds:.0f} s"
                    )
                time.sleep(0.05)
        # It answers: make sure it is this child that answered and it stays up.
        if self.process.poll() is not None:
            raise CommandError(
                f"the key service on {self.url} exited right after start: {self._reason()}"
            )
        log.info("key service ready", extra={"url": self.url, "pid": self.process.pid})

    def watch(self) -> None:
        """Log an error the moment the child dies while the API still runs."""

        def wait() -> None:
            status = self.process.wait()
            if not self._stopping:
                log.error(
                    "the key service child exited; /v1/keyservice/* answers 503 "
                    "until serve is restarted",
                    extra={"exit_status": status, "url": self.url},
                )

        threading.Thread(target=wait, daemon=True).start()

    def stop(self) -> None:
        self._stopping = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._relay.join(timeout=2)


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if ``serve`` dies without stopping it (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
