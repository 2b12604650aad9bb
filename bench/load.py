"""Load on the API: pre-minted tokens, wrk (or an asyncio stand-in), and what it measured.

Every run is bounded in time and sends traffic to 127.0.0.1 only; the generator
runs on the load core, the server's CPU is read from /proc around each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from placement import LOAD_CORE, SERVER_CORE, core_busy_seconds, pinned, pinning_available

if TYPE_CHECKING:
    from servers import Server

WHOAMI = "/v1/whoami"
LIVE = "/health/live"


def mint_tokens(signer: object, count: int, path: str = WHOAMI) -> list[str]:
    """``count`` single-use signed GET tokens for ``path``; each lives 120 s from now."""
    request_token = signer.request_token  # type: ignore[attr-defined]
    return [request_token("GET", path) for _ in range(count)]


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


LUA_DONE = """
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
    body = LUA_DONE
    if tokens is not None:
        token_file = workdir / f"tokens-{secrets.token_hex(4)}.txt"
        token_file.write_text("\n".join(tokens) + "\n")
        body = _LUA_TOKENS % {"file": _lua_string(str(token_file)), "path": _lua_string(path)}
        body += LUA_DONE
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


def drive(
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
