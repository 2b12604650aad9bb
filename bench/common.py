"""Shared helpers for the benchmarks: backing servers, the API process, the load generator.

Layout on a two-core machine: the API worker alone on core 0; this driver, the load
generator, Valkey and PostgreSQL on core 1 (see :func:`pin_self`). All traffic goes to
127.0.0.1 and every run is bounded in time; every process started here is stopped by
its own id (process group) when its context manager exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
SERVER_CORE = 0
LOAD_CORE = 1
WHOAMI = "/v1/whoami"
LIVE = "/health/live"


# -- CPU placement -------------------------------------------------------------


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


# -- backing servers -----------------------------------------------------------


@dataclass(frozen=True)
class Backing:
    data_dir: Path
    database_url: str
    redis_url: str
    signer: object  # refund_registry.client.signing.Signer


def _database_url(base: str, name: str) -> str:
    """The URL of database ``name`` on the embedded server of ``base`` (unix socket)."""
    host = parse_qs(urlparse(base).query)["host"][0]
    return f"postgresql://postgres@/{name}?host={host}"


async def _prepare_database(base_url: str, name: str) -> str:
    import asyncpg

    from refund_registry.storage import migrate

    admin = await asyncpg.connect(_database_url(base_url, "postgres"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = _database_url(base_url, name)
    # This checkout's migrations, also when the service code comes from a copy (--src).
    await migrate.apply(url, REPO / "src/refund_registry/storage/migrations")
    return url


async def _register_member(database_url: str) -> object:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from refund_registry.client.signing import Signer
    from refund_registry.services import principals
    from refund_registry.storage.db import create_pool

    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        added = await principals.add_principal(pool, name="bench member", role="member", pem=pem)
    finally:
        await pool.close()
    # The longest lifetime the registry accepts: tokens are minted before the run.
    return Signer(principal_id=added["id"], kid=added["kid"], private_key=key, lifetime=120)


@contextlib.contextmanager
def backing_servers() -> Iterator[Backing]:
    """Embedded PostgreSQL + Valkey in a temporary folder, a migrated database, a member."""
    from refund_registry.cli.embedded import EmbeddedServers

    root = Path(tempfile.mkdtemp(prefix="rr-bench-", dir="/tmp"))
    servers = EmbeddedServers(root)
    try:
        endpoints = servers.attach()
        database_url = asyncio.run(_prepare_database(endpoints.database_url, "rr_bench"))
        signer = asyncio.run(_register_member(database_url))
        yield Backing(root, database_url, endpoints.redis_url, signer)
    finally:
        servers.release()
        shutil.rmtree(root, ignore_errors=True)


# -- the API process -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(kind: str, port: int) -> list[str]:
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
        return [str(VENV_BIN / "uvicorn"), "--factory", target, *listen]
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
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            # after the command name: state ppid pgrp ... utime(12) stime(13)
            if int(fields[2]) == self.process.pid:
                total += int(fields[11]) + int(fields[12])
        return total / tick


def _get(url: str, timeout: float = 1.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        status: int = response.status
        return status


@contextlib.contextmanager
def api_server(
    kind: str, backing: Backing, *, hiredis: bool = True, startup_timeout: float = 60.0
) -> Iterator[Server]:
    """Run the API under ``kind`` (uvicorn or granian), one worker on the server core."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": backing.database_url,
        "REDIS_URL": backing.redis_url,
        "REGISTRY_DATA_DIR": str(backing.data_dir),
        "REGISTRY_LOG_LEVEL": "WARNING",
    }
    with contextlib.ExitStack() as stack:
        if not hiredis:
            hide = stack.enter_context(hiredis_disabled_path())
            env["PYTHONPATH"] = os.pathsep.join(p for p in (hide, env.get("PYTHONPATH")) if p)
        log = backing.data_dir / f"{kind}-{port}.log"
        log_fh = stack.enter_context(open(log, "wb"))
        process = subprocess.Popen(
            pinned(server_command(kind, port), SERVER_CORE),
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one below
        )
        server = Server(kind, f"http://127.0.0.1:{port}", process, log)
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{kind} exited early:\n{log.read_text()[-3000:]}")
                with contextlib.suppress(OSError):
                    if _get(server.url + LIVE) == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} did not answer {LIVE} within {startup_timeout}s")
                time.sleep(0.1)
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


# -- tokens --------------------------------------------------------------------


def mint_tokens(signer: object, count: int, path: str = WHOAMI) -> list[str]:
    """``count`` single-use signed GET tokens for ``path``; each lives 120 s from now."""
    request_token = signer.request_token  # type: ignore[attr-defined]
    return [request_token("GET", path) for _ in range(count)]


# -- load generation -----------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers plus socket errors and timeouts
    server_cpu_us: float | None = None  # server CPU per request, when measured
    other_load: float | None = None  # share of the server core used by anything else

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def ensure_wrk() -> str | None:
    """The wrk executable, installing Debian's package when root and it is missing."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
        )
    return shutil.which("wrk")


_LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""

_LUA_TOKENS = """
local tokens = {}
local next_token = 0
init = function(args)
  for line in io.lines(%(file)s) do tokens[#tokens + 1] = line end
end
request = function()
  next_token = next_token + 1
  -- Past the end every request is a replay (a 401, counted as an error).
  local token = tokens[next_token] or tokens[#tokens]
  return wrk.format("GET", %(path)s, {["Authorization"] = "Bearer " .. token})
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def run_wrk(
    wrk: str,
    url: str,
    path: str,
    *,
    duration: float,
    connections: int,
    tokens: list[str] | None,
    workdir: Path,
) -> LoadResult:
    """One ``wrk -t1`` run on the load core; one thread so that no token is sent twice."""
    script = workdir / f"wrk-{secrets.token_hex(4)}.lua"
    body = _LUA_DONE
    if tokens is not None:
        token_file = workdir / f"tokens-{secrets.token_hex(4)}.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        body = _LUA_TOKENS % {"file": _lua_string(str(token_file)), "path": _lua_string(path)}
        body += _LUA_DONE
    script.write_text(body)
    argv = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url + path,
    ]
    completed = subprocess.run(
        pinned(argv, LOAD_CORE), capture_output=True, text=True, timeout=duration + 60
    )
    line = next((x for x in completed.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(line.removeprefix("RESULT "))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
    )


async def _python_load(
    host: str, port: int, requests: list[bytes], duration: float, connections: int
) -> LoadResult:
    """A closed-loop HTTP/1.1 keep-alive generator on raw asyncio streams (wrk's stand-in)."""
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration
    # One request for every send (a bare route), or each signed request exactly once.
    single = requests[0] if len(requests) == 1 else None
    pending = iter(requests)

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop_at:
                raw = single or next(pending, None)
                if raw is None:
                    return
                started = time.perf_counter()
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for header in head.split(b"\r\n")[1:]:
                    name, _, value = header.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return LoadResult(len(latencies), elapsed, pct(0.5), pct(0.99), errors)


def run_python_load(
    url: str, path: str, *, duration: float, connections: int, tokens: list[str] | None
) -> LoadResult:
    """Fallback when wrk is missing; slower than wrk, so it can cap the figures it reports."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    base = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if tokens is None:
        requests = [(base + "\r\n").encode()]
    else:
        requests = [(base + f"Authorization: Bearer {t}\r\n\r\n").encode() for t in tokens]
    try:
        import uvloop

        return uvloop.run(_python_load(host, port, requests, duration, connections))
    except ImportError:
        return asyncio.run(_python_load(host, port, requests, duration, connections))


def load(
    server: Server,
    path: str,
    *,
    duration: float,
    connections: int,
    tokens: list[str] | None,
    workdir: Path,
    wrk: str | None,
) -> LoadResult:
    """Drive ``path`` for ``duration`` seconds; measure the server's CPU per request too."""
    cpu_before = server.cpu_seconds()
    core_before = core_busy_seconds(SERVER_CORE)
    if wrk:
        result = run_wrk(
            wrk,
            server.url,
            path,
            duration=duration,
            connections=connections,
            tokens=tokens,
            workdir=workdir,
        )
    else:
        result = run_python_load(
            server.url, path, duration=duration, connections=connections, tokens=tokens
        )
    cpu = server.cpu_seconds() - cpu_before
    other = (core_busy_seconds(SERVER_CORE) - core_before - cpu) / result.seconds
    per_request = cpu / result.requests * 1e6 if result.requests else None
    return LoadResult(
        result.requests,
        result.seconds,
        result.p50_ms,
        result.p99_ms,
        result.errors,
        per_request,
        max(other, 0.0) if pinning_available() else None,
    )
