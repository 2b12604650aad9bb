"""Zero-setup ``serve`` keeps running what it started: PostgreSQL, Valkey, the key service.

A thread of ``serve`` looks at each part every half second. A part found dead
is logged (``error``: what died) and started again; a restart that fails is
logged (``warning``) and tried again after a back-off that doubles from
half a second up to 30 seconds, as does the wait before restarting a part
that died again soon after its last restart (the back-off is forgotten once a
part has stayed up for a minute). A successful restart is logged (``warning``,
with how long the part was down and how many attempts it took).

Meanwhile the API answers what it can: 503 ``db.unavailable`` while
PostgreSQL is away, the Redis fallbacks while Valkey is, 503
``keyservice.unavailable`` on the key-service routes while the key service is;
``/health/ready`` says which. Production runs each of these under its own
service manager (``docs/operations.md``), and ``serve`` there starts none of
them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("refund_registry.supervisor")

CHECK_INTERVAL = 0.5
"""Seconds between two looks at every part."""
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0
"""Seconds a restarted part must stay up before its back-off is forgotten."""


@dataclass
class Part:
    """One thing ``serve`` started: how to tell it runs, and how to start it again."""

    name: str
    alive: Callable[[], bool]
    restart: Callable[[], object]
    failures: int = 0
    restarts: int = 0
    down_since: float | None = None
    next_try: float = 0.0
    up_since: float = field(default_factory=time.monotonic)

    def backoff(self) -> float:
        return float(min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** max(self.failures - 1, 0)))

    def check(self, now: float) -> None:
        """Restart the part if it died and its back-off has passed."""
        if self.alive():
            if self.failures and self.down_since is None and now - self.up_since > STABLE_AFTER:
                self.failures = 0
            return
        if self.down_since is None:
            self.down_since = now
            # Died again soon after a restart: wait before the next one.
            self.next_try = now + (self.backoff() if self.failures else 0.0)
            log.error(
                f"{self.name} died; restarting it",
                extra={"part": self.name, "restart_in_seconds": round(self.next_try - now, 2)},
            )
        if now < self.next_try:
            return
        self.failures += 1
        try:
            self.restart()
        except Exception as exc:  # any failure is retried; the loop must go on
            self.next_try = time.monotonic() + self.backoff()
            log.warning(
                f"{self.name} did not restart; trying again",
                extra={
                    "part": self.name,
                    "error": str(exc) or exc.__class__.__name__,
                    "attempt": self.failures,
                    "retry_in_seconds": self.backoff(),
                },
            )
            return
        self.restarts += 1
        done = time.monotonic()
        log.warning(
            f"{self.name} restarted",
            extra={
                "part": self.name,
                "down_seconds": round(done - self.down_since, 2),
                "attempts": self.failures,
                "restarts": self.restarts,
            },
        )
        self.down_since = None
        self.up_since = done


class Supervisor:
    """Checks every part in a thread of its own until :meth:`stop`.

    Parts are checked in order, so list them in the order they depend on one
    another (PostgreSQL, then Valkey, then the key service): while one is
    down, the parts after it wait.
    """

    def __init__(self, parts: Sequence[Part], interval: float = CHECK_INTERVAL) -> None:
        self.parts = list(parts)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        if self.parts:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check_once()

    def check_once(self) -> None:
        """One look at every part, in order; a part still down holds back those after it."""
        for part in self.parts:
            if self._stop.is_set():
                return
            part.check(time.monotonic())
            if part.down_since is not None:
                return  # the key service cannot start without PostgreSQL, say

    def stop(self) -> None:
        """Stop looking (before stopping the parts themselves: they must not come back)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> Supervisor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
