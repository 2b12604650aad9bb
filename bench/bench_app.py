"""What the framework and the app's own edge cost per request, in-process, without a server.

The real app (``create_app``) is called as an ASGI callable, with no server, no
socket and no database: CPU time per request (``time.process_time()``), the
best of ``--rounds`` processes x ``--batches`` batches of ``--requests`` requests, for

- ``GET /health/live``: the bare route;
- ``GET /no/such/path``: a request that matches no route (a 404 problem document);
- ``GET /v1/whoami`` unsigned: a 401 problem document from the auth hook;
- ``GET /v1/whoami`` signed: a request signed by a member's Ed25519 key, verified
  by the real ``Authenticator``; its keys come from a dict and its ``jti`` go to
  the replay guard's in-process store (no Redis, no PostgreSQL), so the figure
  is the edge's work plus the token check, not a round trip.

Each source tree is measured in four builds: as built; without app-level
middleware (the ``middleware`` argument of ``Litestar`` dropped); without
``before_send`` hooks; and bare (neither, nor any ASGI wrapper the app puts
around Litestar's own handler). Differences between builds of one tree are
what each piece costs; they come from the same run.

``--baseline COMMIT`` measures the ``src/`` of that commit too (extracted with
``git archive`` into a temporary folder), alternating with the working tree
process by process, and prints after/before ratios. Within a process the
builds and routes take turns batch by batch, so that each sees the same share
of a machine shared with other work.

Run: ``.venv/bin/python bench/bench_app.py [--baseline COMMIT] [--rounds 5] [--batches 10]
[--requests 500]``;
``--profile`` prints the cProfile of the signed and the bare route instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILDS = ("as built", "no app middleware", "no before_send", "bare")
SIGNED = "signed whoami"
ROUTES = ("live", "404 unmatched", "401 unsigned whoami", SIGNED)
AUDIENCE = "http://bench.invalid"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="processes per tree, alternated")
    parser.add_argument("--batches", type=int, default=10, help="batches per build in a process")
    parser.add_argument("--requests", type=int, default=500, help="requests per batch")
    parser.add_argument("--baseline", help="a commit whose src/ is measured alongside")
    parser.add_argument("--profile", action="store_true", help="cProfile the working tree")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: JSON spec of one process
    return parser.parse_args()


# -- one process: one source tree, one round ----------------------------------------


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8080"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Sink:
    """The server side of the ASGI call: keeps the status of the last answer."""

    status = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]


def _build(build: str) -> tuple[Any, Any]:
    """The app as ``create_app`` makes it, less the pieces ``build`` names."""
    import litestar
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from refund_registry.client.signing import Signer
    from refund_registry.config import Settings
    from refund_registry.http.app import create_app
    from refund_registry.services.authn import Authenticator, KeyCache
    from refund_registry.storage.cache import RedisBreaker, ReplayGuard

    settings = Settings(
        environment="test",
        data_dir=Path(tempfile.gettempdir()) / "bench-app",
        database_url="postgresql://bench.invalid/none",
        redis_url="redis://bench.invalid",
        public_url=AUDIENCE,
    )
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    row = {
        "kid": "bench-key",
        "principal_id": "bench-member",
        "role": "member",
        "name": "bench",
        "alg": "EdDSA",
        "public_key_pem": pem.decode(),
        "revoked_at": None,
        "status": "active",
    }

    async def load_key(kid: str) -> dict[str, Any] | None:
        return row if kid == row["kid"] else None

    auth = Authenticator(
        KeyCache(load_key, ttl=3600),
        ReplayGuard(None, RedisBreaker()),
        audience=AUDIENCE,
        leeway=settings.clock_skew_seconds,
    )
    runtime = SimpleNamespace(settings=settings, auth=auth)
    original = litestar.Litestar.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if build in ("no app middleware", "bare"):
            kwargs.pop("middleware", None)
        if build in ("no before_send", "bare"):
            kwargs.pop("before_send", None)
        original(self, *args, **kwargs)

    litestar.Litestar.__init__ = init  # type: ignore[method-assign]
    try:
        app = create_app(settings, runtime_override=runtime)  # type: ignore[arg-type]
    finally:
        litestar.Litestar.__init__ = original  # type: ignore[method-assign]
    if build == "bare":
        app.asgi_handler = app._create_asgi_handler()
    return app, Signer("bench-member", "bench-key", private, audience=AUDIENCE)


def _requests(signer: Any, route: str, n: int) -> list[dict[str, Any]]:
    if route == "live":
        return [_scope("/health/live", [])] * n
    if route == "404 unmatched":
        return [_scope("/no/such/path", [])] * n
    if route == "401 unsigned whoami":
        return [_scope("/v1/whoami", [])] * n
    return [
        _scope(
            "/v1/whoami",
            [(b"authorization", f"Bearer {signer.request_token('GET', '/v1/whoami')}".encode())],
        )
        for _ in range(n)
    ]


EXPECTED = {"live": 200, "404 unmatched": 404, "401 unsigned whoami": 401, "signed whoami": 200}


async def _measure(built: tuple[Any, Any], route: str, n: int) -> float:
    """CPU seconds per request over ``n`` requests (scopes built beforehand)."""
    app, signer = built
    scopes = _requests(signer, route, n)
    sink = _Sink()
    for scope in scopes[:50]:  # warm the caches; these tokens are spent
        await app(dict(scope), _receive, sink)
    scopes = [dict(s) for s in scopes[50:]] if route == SIGNED else [dict(s) for s in scopes]
    start = time.process_time()
    for scope in scopes:
        await app(scope, _receive, sink)
    spent = time.process_time() - start
    if sink.status != EXPECTED[route]:
        raise SystemExit(f"{route}: answered {sink.status}, expected {EXPECTED[route]}")
    return spent / len(scopes)


def child(spec: dict[str, Any]) -> None:
    """Every build of this tree, measured in short batches taken in turn; the best batch each.

    Short batches, alternated between builds, give each build the same share
    of a noisy machine; the best of many is the figure least disturbed by it.
    """
    import gc
    import logging

    logging.disable(logging.WARNING)  # the replay guard's fallback warns once per process
    apps = {build: _build(build) for build in BUILDS}
    gc.collect()
    gc.freeze()
    results = {build: dict.fromkeys(ROUTES, float("inf")) for build in BUILDS}

    async def run() -> None:
        for _ in range(spec["batches"]):
            for build, app in apps.items():
                for route in ROUTES:
                    spent = await _measure(app, route, spec["requests"] + 50 * (route == SIGNED))
                    results[build][route] = min(results[build][route], spent)

    asyncio.run(run())
    print(json.dumps(results))


def profile(requests: int) -> None:
    import cProfile
    import pstats

    for route in ("live", "signed whoami"):
        app = _build("as built")
        asyncio.run(_measure(app, route, 200))
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(_measure(app, route, requests))
        profiler.disable()
        print(f"== {route}: {requests} requests")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


# -- the parent: alternate the trees, keep the best ------------------------------------


def _run_child(src: Path, requests: int, batches: int) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    spec = json.dumps({"requests": requests, "batches": batches})
    out = subprocess.run(
        [sys.executable, __file__, "--child", spec],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _best(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {b: {r: min(run[b][r] for run in runs) for r in ROUTES} for b in BUILDS}


def _table(name: str, best: dict[str, dict[str, float]], us: Callable[[float], str]) -> None:
    print(f"\n{name}: CPU µs per request")
    print(f"{'build':<20}" + "".join(f"{r:>22}" for r in ROUTES))
    for build in BUILDS:
        print(f"{build:<20}" + "".join(f"{us(best[build][r]):>22}" for r in ROUTES))
    edge = [us(best["as built"][r] - best["bare"][r]) for r in ROUTES]
    print(f"{'as built - bare':<20}" + "".join(f"{e:>22}" for e in edge))


def main() -> None:
    args = parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if args.profile:
        sys.path.insert(0, str(ROOT / "src"))
        profile(args.requests)
        return
    trees = {"working tree": ROOT / "src"}
    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        if args.baseline:
            archive = subprocess.run(
                ["git", "archive", args.baseline, "src"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            trees = {f"baseline {args.baseline}": Path(tmp) / "src", **trees}
        runs: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in trees}
        for i in range(args.rounds):
            for name, src in trees.items():  # alternated, so both see the same machine
                runs[name].append(_run_child(src, args.requests, args.batches))
            print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
    batches = args.rounds * args.batches
    print(f"best of {batches} batches of {args.requests} requests per route, build and tree")
    print("CPU time of this process (time.process_time), in-process ASGI calls, no server")

    def us(seconds: float) -> str:
        return f"{seconds * 1e6:.1f}"

    best = {name: _best(r) for name, r in runs.items()}
    for name in trees:
        _table(name, best[name], us)
    if args.baseline:
        before, after = best[f"baseline {args.baseline}"], best["working tree"]
        print("\nas built, working tree / baseline:")
        for route in ROUTES:
            b, a = before["as built"][route], after["as built"][route]
            print(f"  {route:<22} {us(b):>7} -> {us(a):>7} µs  ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
