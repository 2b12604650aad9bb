"""Killing real servers at a chosen moment, for the fault suites.

A request is held at one step (a COPY into one table, the merge of one
buyer's aggregate row) by a lock another session takes first: the request's
backend waits on it, and the kill then lands while the request is exactly
there, every time. Nothing is mocked: the server is SIGKILLed, postmaster and
backends alike, as a host that dies would leave it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil


def kill_postgres(pgdata: Path) -> int:
    """SIGKILL the postmaster of ``pgdata`` and every process it started; its pid."""
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    parent = psutil.Process(pid)
    children = parent.children(recursive=True)
    parent.kill()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    return pid


def kill_pid(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


async def hold(conn: Any, statement: str, *args: Any) -> None:
    """Open a transaction on ``conn`` and take a lock with ``statement`` inside it."""
    await conn.execute("BEGIN")
    await conn.execute(statement, *args)


async def wait_until_blocked(conn: Any, request: asyncio.Task[Any], seconds: float = 20) -> None:
    """Return once another session waits on a lock; fail if ``request`` ends first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if request.done():
            raise AssertionError(f"the request ended before it reached the lock: {request}")
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the request never waited on the lock")


def wait_for(check: Any, seconds: float, what: str) -> None:
    """Poll ``check()`` until it is true, or fail naming ``what``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.1)


def children_of(pid: int, marker: str) -> set[int]:
    """Pids of the live children of ``pid`` whose command line contains ``marker``."""
    found = set()
    for child in psutil.Process(pid).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and marker in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found
