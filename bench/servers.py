"""The backing servers and the API process a benchmark runs against.

The embedded servers, the migrated database and the registered member come from
``tests/support/`` (the tests' own set-up); what is bench-only is the API as a
pinned subprocess under uvicorn or granian, and switching hiredis on and off.
Every process started here is stopped by its own id (process group) when its
context manager exits.

Nothing of the service is imported at module level: ``bench_auth.py --src DIR``
puts another source tree first on the path after this module is imported, and
redis-py decides about hiredis when it is first imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from load import LIVE
from placement import SERVER_CORE, pinned

from tests.support.principals import register_principal
from tests.support.servers import embedded_servers, migrated_database
from tests.support.waiting import free_port, wait_for_http

if TYPE_CHECKING:
    from refund_registry.client.signing import Signer

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


# -- backing servers -----------------------------------------------------------


@dataclass(frozen=True)
class Backing:
    data_dir: Path
    database_url: str
    redis_url: str
    signer: Signer


async def _prepare(base_url: str) -> tuple[str, Signer]:
    """A migrated database ``rr_bench`` and a member registered in it."""
    from refund_registry.storage.db import create_pool

    # This checkout's migrations, also when the service code comes from a copy (--src).
    url = await migrated_database(
        base_url, "rr_bench", REPO / "src/refund_registry/storage/migrations"
    )
    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        signer = await register_principal(pool, "member", "bench member")
    finally:
        await pool.close()
    # The longest lifetime the registry accepts: tokens are minted before the run.
    return url, dataclasses.replace(signer, lifetime=120)


@contextlib.contextmanager
def backing_servers() -> Iterator[Backing]:
    """Embedded PostgreSQL + Valkey in a temporary folder, a migrated database, a member."""
    with embedded_servers("rr-bench-") as running:
        database_url, signer = asyncio.run(_prepare(running.endpoints.database_url))
        yield Backing(running.root, database_url, running.endpoints.redis_url, signer)


# -- the API process -----------------------------------------------------------


COALESCING = "refund_registry.cli.coalescing"


def uvicorn_protocol(src: str | None = None) -> list[str]:
    """The protocol ``serve`` writes answers with (each in one write, ``cli/coalescing.py``),
    when the measured source tree (``src``, else this process's) has it; an older
    tree runs uvicorn's own."""
    import importlib.util

    if src is not None:
        found = Path(src, *COALESCING.split(".")).with_suffix(".py").exists()
    else:
        found = importlib.util.find_spec(COALESCING) is not None
    return ["--http", f"{COALESCING}:CoalescingHttpTools"] if found else []


def server_command(kind: str, port: int, src: str | None = None) -> list[str]:
    target = "refund_registry.http.asgi:app_from_env"
    # Both servers spell these options the same way.
    listen = [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if kind == "granian":
        granian = str(VENV_BIN / "granian")
        return [granian, "--interface", "asgi", "--factory", target, "--workers", "1", *listen]
    if kind == "uvicorn":
        return [str(VENV_BIN / "uvicorn"), "--factory", target, *uvicorn_protocol(src), *listen]
    raise ValueError(f"unknown server {kind!r}")


@contextlib.contextmanager
def hiredis_disabled_path() -> Iterator[str]:
    """A folder whose ``hiredis.py`` fails to import: put first on PYTHONPATH to hide hiredis.

    redis-py picks its parser when it is imported (hiredis if importable), and a
    server's worker processes re-import it, so an environment variable is the one
    switch that reaches them all without uninstalling anything.
    """
    folder = Path(tempfile.mkdtemp(prefix="rr-nohiredis-"))
    (folder / "hiredis.py").write_text('raise ImportError("hiredis hidden by the benchmark")\n')
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hiredis_importable() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def hiredis_on_path(wanted: bool) -> Iterator[bool]:
    """Make hiredis importable here and in every server started, without touching the venv.

    hiredis is no dependency of the service (docs/performance.md says why); to compare,
    it is installed with pip into a temporary folder put first on ``sys.path`` and
    ``PYTHONPATH``, and removed afterwards. Yields whether hiredis can be measured.
    Call before anything imports redis-py: it decides about hiredis on import.
    """
    if not wanted or hiredis_importable():
        yield hiredis_importable()
        return
    folder = Path(tempfile.mkdtemp(prefix="rr-hiredis-"))
    saved = os.environ.get("PYTHONPATH")
    try:
        try:
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--target", str(folder), "hiredis"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError):
            yield False
            return
        sys.path.insert(0, str(folder))
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), saved) if p)
        yield hiredis_importable()
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Server:
    kind: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of every live process in the server's process group."""
        return proc_cpu(lambda _, fields: int(fields[2]) == self.process.pid)  # the group


def proc_cpu(select: Callable[[int, list[str]], bool]) -> float:
    """User + system CPU seconds of every live process ``select(pid, fields)`` picks;
    ``fields`` are those of ``/proc/<pid>/stat`` after the command name: state, ppid,
    pgrp, ... (utime and stime at 11 and 12)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if select(int(entry), fields):
            total += int(fields[11]) + int(fields[12])
    return total / tick


@contextlib.contextmanager
def api_server(
    kind: str,
    backing: Backing,
    *,
    hiredis: bool = True,
    startup_timeout: float = 60.0,
    src: str | None = None,
) -> Iterator[Server]:
    """Run the API under ``kind`` (uvicorn or granian), one worker on the server core;
    its code from ``src`` (a ``src/`` folder) when given."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": backing.database_url,
        "REDIS_URL": backing.redis_url,
        "REGISTRY_DATA_DIR": str(backing.data_dir),
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    with contextlib.ExitStack() as stack:
        if not hiredis:
            hide = stack.enter_context(hiredis_disabled_path())
            env["PYTHONPATH"] = os.pathsep.join(p for p in (hide, env.get("PYTHONPATH")) if p)
        log = backing.data_dir / f"{kind}-{port}.log"
        log_fh = stack.enter_context(open(log, "wb"))
        process = subprocess.Popen(
            pinned(server_command(kind, port, src), SERVER_CORE),
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one below
        )
        server = Server(kind, f"http://127.0.0.1:{port}", process, log)
        try:
            if not wait_for_http(server.url + LIVE, process=process, seconds=startup_timeout):
                if process.poll() is not None:
                    raise RuntimeError(f"{kind} exited early:\n{log.read_text()[-3000:]}")
                raise RuntimeError(f"{kind} did not answer {LIVE} within {startup_timeout}s")
            yield server
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    # Worker processes may outlive the leader for a moment; make sure none stays.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
