"""Where each process runs: the API worker on one core, everything else on the other.

Layout on a two-core machine: the API worker alone on core 0; the driver, the load
generator, Valkey and PostgreSQL on core 1 (see :func:`pin_self`). Without taskset
or a second core nothing is pinned, and the figures say so.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

SERVER_CORE = 0
LOAD_CORE = 1


def cores() -> int:
    return len(os.sched_getaffinity(0))


def pinning_available() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pin_self() -> None:
    """Move this driver (and everything it starts unpinned) to the load-generator core."""
    if pinning_available():
        os.sched_setaffinity(0, {LOAD_CORE})


def pinned(argv: list[str], core: int) -> list[str]:
    return ["taskset", "-c", str(core), *argv] if pinning_available() else argv


def core_busy_seconds(core: int) -> float:
    """Non-idle time of one core since boot (user, system, irq, softirq, steal)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
            return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def wait_for_quiet(limit: float = 20.0, threshold: float = 0.10) -> float:
    """Wait (at most ``limit`` s) until both cores are nearly idle; return the last busy share.

    The machine may be shared (a test suite running beside the benchmark); starting
    a run while it is busy would measure that work too.
    """
    deadline = time.monotonic() + limit
    while True:
        before = [core_busy_seconds(c) for c in (SERVER_CORE, LOAD_CORE)]
        time.sleep(0.5)
        busy = (
            max(
                core_busy_seconds(c) - b
                for c, b in zip((SERVER_CORE, LOAD_CORE), before, strict=True)
            )
            / 0.5
        )
        if busy <= threshold or time.monotonic() > deadline:
            return busy
