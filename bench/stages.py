"""The CPU split of a request per stage, from a py-spy ``--format raw`` profile.

Each busy sample is given to one stage: the first of the service's own stages
(in the order of ``STAGES``) whose pattern matches any frame of the sample's
stack; failing that, the library its innermost known frame belongs to
(``LIBRARIES``). The app's edge (``http/edge.py``) wraps every request, so its
frame does not name a stage: the request metrics and language headers it
calls are a stage of their own, and the rest of a sample goes where its
other frames say. Multiplied by
the server's CPU per request, the shares give microseconds per stage.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import placement

# The service's own stages, most specific first (a sample in the receipt's
# signature is also inside the access log's append, and counts as the receipt).
STAGES: list[tuple[str, re.Pattern[str]]] = [
    ("verify: Ed25519 signature check", re.compile(r"_signature_valid")),
    (
        "receipt: Ed25519 signature (v1), receipt tree (v2)",
        re.compile(r"sign_receipt|receipt_for|ed25519_sign|checkpoint/batch\.py|batch_receipts"),
    ),
    ("log entry: encode, commitments, leaf hash", re.compile(r"domain/access\.py")),
    ("group commit: COPY + commit", re.compile(r"storage/accesslog\.py")),
    ("rate limit + org budget", re.compile(r"storage/organisations\.py|quotas\.py")),
    ("rate limit", re.compile(r"storage/ratelimit\.py")),
    (
        "Valkey pipeline: replay check + rate limit",
        re.compile(r"storage/cache\.py|storage/redis_batch\.py"),
    ),
    ("verify: token parse, key, binding", re.compile(r"domain/tokens\.py|services/authn\.py")),
    ("look-up (subject rows)", re.compile(r"storage/lookup\.py")),
    ("scoring and answer", re.compile(r"domain/(inquiry|scoring)")),
    ("JSON: body decode, answer encode", re.compile(r"msgspec|litestar/serialization")),
    ("background: sequencer", re.compile(r"services/sequencer|storage/tree|domain/merkle")),
    ("request metrics and language headers", re.compile(r"http/request_metrics\.py|announce_lang")),
    # The answer's write to the socket runs inside the handler's frames (the
    # lane's, the edge's), or on the next tick once coalesced (cli/coalescing.py):
    # it is the HTTP server's work, not theirs.
    (
        "HTTP server: writing the answer",
        re.compile(r"RequestResponseCycle\.send \(uvicorn|cli/coalescing\.py"),
    ),
    # http/edge.py wraps every request: its frame alone says nothing of the stage.
    (
        "edge and glue: handler, auth hook, body, locale",
        re.compile(r"refund_registry/http/(?!edge\.py)"),
    ),
    ("service code, other", re.compile(r"refund_registry/(?!http/edge\.py)")),
]

# Libraries, matched on the innermost frame that belongs to one of them.
LIBRARIES: list[tuple[str, re.Pattern[str]]] = [
    ("Prometheus client", re.compile(r"prometheus")),
    ("Valkey client (replies, pipeline)", re.compile(r"/redis/")),
    ("PostgreSQL driver (asyncpg)", re.compile(r"asyncpg")),
    ("Litestar: routing, kwargs, response", re.compile(r"litestar/")),
    ("HTTP server (uvicorn, httptools)", re.compile(r"uvicorn|httptools|h11")),
    ("event loop (asyncio, uvloop)", re.compile(r"asyncio|uvloop")),
]


def classify(stack: list[str]) -> str:
    for name, pattern in STAGES:
        if any(pattern.search(frame) for frame in stack):
            return name
    for frame in reversed(stack):
        for name, pattern in LIBRARIES:
            if pattern.search(frame):
                return name
    return "other"


def samples(path: Path) -> Iterator[tuple[list[str], int]]:
    """The stacks of a raw py-spy profile (outermost frame first), each with its count."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack.strip() and count.isdigit():
            yield stack.split(";"), int(count)


def split(
    path: Path, stage_of: Callable[[list[str]], str] = classify
) -> tuple[int, dict[str, int]]:
    """(busy samples, samples per stage) of a raw py-spy profile."""
    per_stage: collections.Counter[str] = collections.Counter()
    total = 0
    for stack, count in samples(path):
        total += count
        per_stage[stage_of(stack)] += count
    return total, dict(per_stage)


def table(path: Path, cpu_per_request_us: float) -> list[str]:
    """Lines of a markdown table: stage, share of the busy samples, µs per request."""
    total, per_stage = split(path)
    if not total:
        return ["(no samples)"]
    lines = [f"busy samples: {total}", "| stage | share | µs/request |", "|---|---|---|"]
    for name, n in sorted(per_stage.items(), key=lambda kv: -kv[1]):
        share = n / total
        lines.append(f"| {name} | {100 * share:.1f} % | {share * cpu_per_request_us:.0f} |")
    return lines


def worker_pid(leader: int) -> int:
    """The process that runs the app: a worker child of ``leader``, or the leader itself."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == leader and int(fields[2]) == leader:
                    return int(entry)
    return leader


def start_profiler(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (from the venv) recording ``pid`` for ``seconds`` at 250 Hz; None without it.

    Blocking mode (each sample pauses the worker for a moment): whole stacks,
    where ``--nonblocking`` loses frames on a busy machine. So the CPU per
    request is measured in a run without the profiler. ``--gil``: only samples
    holding the GIL, so the event loop waiting in epoll (uvloop releases the
    GIL there) is not counted as busy.
    """
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        print("  note: py-spy is not in the venv (pip install py-spy); no profile")
        return None
    argv = [str(spy), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
            "--rate", "250", "--gil", "--format", "raw", "-o", str(out)]  # fmt: skip
    return subprocess.Popen(
        placement.pinned(argv, placement.LOAD_CORE),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def finish_profiler(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
