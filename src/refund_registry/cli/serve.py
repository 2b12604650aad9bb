"""``refund-registry serve``: the API, with the key service as a child in zero-setup mode."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from typing import Any, TextIO

from refund_registry.cli import serving
from refund_registry.cli.common import (
    backing_servers,
    exclusive,
    load_settings,
    log,
    migrate_schema,
)
from refund_registry.config import Settings


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser("serve", parents=[common], help="run the API (zero-setup without URLs)")
    serve.add_argument("--port", type=int)
    serve.add_argument("--host")
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.http.app import create_app
    from refund_registry.storage import keyfiles

    settings = load_settings(args)
    with exclusive(settings.data_dir, "serve"), backing_servers(settings) as live:
        applied = migrate_schema(live)
        if applied:
            log.info("schema migrated", extra={"applied": applied})
        generate = live.environment != "production"
        keyfiles.ensure_ed25519(live.key_path("log"), generate=generate)
        keyfiles.load_keyring_keys(live.key_path("registry"), generate=generate)
        log.info(
            "serving",
            extra={"url": f"http://{live.host}:{live.port}", "data_dir": str(live.data_dir)},
        )
        child = None if live.keyservice_url else _start_keyservice(live)
        try:
            serving.serve(create_app(live), live.host, live.port)
        finally:
            if child is not None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
    log.info("stopped")
    return 0


def _start_keyservice(live: Settings) -> subprocess.Popen[bytes]:
    """Zero-setup mode: the key service runs as a child process with its own key file.

    It gets the resolved URLs, so it uses the parent's embedded servers; the
    API process never opens the key service's key (SPEC section 3).
    """
    env = {
        **os.environ,
        "DATABASE_URL": live.database_url,
        "REDIS_URL": live.redis_url,
        "REGISTRY_HOST": live.host,
        "REGISTRY_KEYSERVICE_PORT": str(live.keyservice_port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "refund_registry", "keyservice", "--data-dir", str(live.data_dir)],
        env=env,
        preexec_fn=_die_with_parent,  # a one-line prctl before exec
    )


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if ``serve`` dies without stopping it (kill -9)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
