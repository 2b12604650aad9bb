"""The key service as a child process of ``serve`` (zero-setup mode), restartable.

Its stderr is relayed to ours line by line, and the relay keeps the last
lines, so that a child that dies can be explained in one line (its own last
error) rather than by a silent 503 later. :meth:`KeyServiceChild.restart`
starts a dead child again on the same port; the supervisor of ``serve``
(``cli/supervisor.py``) calls it.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from refund_registry.cli.common import CommandError, log
from refund_registry.config import Settings


class KeyServiceChild:
    """The key service as a child process, its stderr relayed to ours line by line."""

    def __init__(self, process: subprocess.Popen[bytes], live: Settings) -> None:
        self.live = live
        self.url = live.keyservice_url
        self.last_lines: collections.deque[str] = collections.deque(maxlen=20)
        self._stopping = False
        self._adopt(process)

    def _adopt(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._relay = threading.Thread(target=self._relay_stderr, daemon=True)
        self._relay.start()

    @classmethod
    def start(cls, live: Settings) -> KeyServiceChild:
        """Start ``refund-registry keyservice`` on ``live.keyservice_port``.

        It gets the resolved URLs, so it uses the parent's embedded servers; the
        API process never opens the key service's key.
        """
        return cls(_spawn(live), live)

    def alive(self) -> bool:
        """True while the child runs (a dead one is reaped here, never left a zombie)."""
        return self.process.poll() is None

    def restart(self, seconds: float = 60.0) -> None:
        """Start the child again on the same port; return once it answers.

        Raises CommandError when it does not (the caller tries again later).
        """
        if self._stopping:
            return
        self.process.poll()
        self._relay.join(timeout=2)
        self._adopt(_spawn(self.live))
        self.wait_until_answering(seconds)

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


def _spawn(live: Settings) -> subprocess.Popen[bytes]:
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
        [sys.executable, "-m", "refund_registry", "keyservice", "--data-dir", str(live.data_dir)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent,  # a one-line prctl before exec
    )
    log.info("key service starting", extra={"pid": process.pid, "url": live.keyservice_url})
    return process


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if ``serve`` dies without stopping it (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
