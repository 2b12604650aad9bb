"""``refund-registry serve``: the API, with the key service as a child in zero-setup mode.

Unless ``REGISTRY_KEYSERVICE_URL`` names a key service elsewhere, ``serve``
starts one as a child process on a free port of its own (or on
``--keyservice-port`` / ``REGISTRY_KEYSERVICE_PORT``), waits until it answers,
and points the API's key-service URL at it: two ``serve`` processes on one
host each talk to their own key service. A child that cannot bind its port or
dies during start-up stops ``serve`` with one clear line.

In zero-setup mode ``serve`` also supervises what it started: the embedded
PostgreSQL and Valkey and the key-service child are restarted, with back-off,
when they die (``cli/supervisor.py``). ``--workers N`` runs N API processes
(``cli/serving_workers.py``) after checking that their connection pools fit
PostgreSQL's ``max_connections`` (``cli/workers.py``).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, TextIO

from refund_registry.cli import boundaries, serving, workers
from refund_registry.cli.common import (
    CommandError,
    attached_servers,
    exclusive,
    load_settings,
    log,
    migrate_schema,
)
from refund_registry.cli.embedded import EmbeddedServers
from refund_registry.cli.keyservice_child import KeyServiceChild
from refund_registry.cli.supervisor import Part, Supervisor
from refund_registry.config import Settings

KEYSERVICE_START_SECONDS = 60.0
"""How long the key-service child may take to answer (it attaches, migrates, loads its key)."""


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    defaults = Settings()
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the API (zero-setup without URLs)",
        description="Migrate, ensure keys, start the key service as a child process (unless "
        "REGISTRY_KEYSERVICE_URL is set) and serve the API until SIGINT/SIGTERM.",
    )
    serve.add_argument(
        "--port",
        type=int,
        help=f"port of the API (default: $REGISTRY_PORT, else {defaults.port})",
    )
    serve.add_argument(
        "--host",
        help="address the API and its key-service child listen on "
        f"(default: $REGISTRY_HOST, else {defaults.host})",
    )
    serve.add_argument(
        "--keyservice-port",
        type=int,
        metavar="PORT",
        help="port of the key-service child (default: $REGISTRY_KEYSERVICE_PORT, "
        "else a free port chosen at start)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="API worker processes (default: $REGISTRY_WORKERS, else one per core in "
        "production and one in zero-setup mode)",
    )
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.storage import keyfiles

    settings = load_settings(args)
    settings = with_public_url(settings)
    refusals = boundaries.serve_refusals(settings)
    if refusals:
        raise CommandError("refusing to start: " + "; ".join(refusals))
    with exclusive(settings.data_dir, "serve"):
        # Both ports are settled before any server starts: a taken one fails at once.
        api_socket = serving.listen(settings.host, settings.port)
        try:
            if not settings.keyservice_url:
                settings = settings.with_overrides(keyservice_port=_keyservice_port(args, settings))
                settings = settings.with_overrides(keyservice_url=_child_url(settings))
                child_wanted = True
            else:
                child_wanted = False
            with attached_servers(settings) as (live, embedded):
                applied = migrate_schema(live)
                if applied:
                    log.info("schema migrated", extra={"applied": applied})
                role_problems = asyncio.run(boundaries.login_role_refusals(live))
                if role_problems:
                    raise CommandError("refusing to start: " + "; ".join(role_problems))
                count = _worker_count(args, live)
                budget = asyncio.run(workers.budget(live, count, keyservice_child=child_wanted))
                refusal = budget.refusal()
                if refusal:
                    raise CommandError("refusing to start: " + refusal)
                if child_wanted:
                    boundaries.zero_setup_notice(live)
                generate = live.environment != "production"
                keyfiles.ensure_ed25519(live.key_path("log"), generate=generate)
                keyfiles.load_keyring_keys(live.key_path("registry"), generate=generate)
                child = KeyServiceChild.start(live) if child_wanted else None
                try:
                    if child is not None:
                        child.wait_until_answering(KEYSERVICE_START_SECONDS)
                    with Supervisor(_parts(embedded, child)):
                        _run_api(live, api_socket, count, lambda: _announce(live, count, out))
                finally:
                    if child is not None:
                        child.stop()
        finally:
            api_socket.close()
    log.info("stopped")
    return 0


def _run_api(live: Settings, sock: Any, count: int, on_ready: Any) -> None:
    """Serve the API in this process (one worker) or in ``count`` worker processes."""
    from refund_registry.http.app import create_app

    limits = serving.ServerLimits.of(live)
    if count == 1:
        serving.serve(
            create_app(live), live.host, live.port, sock=sock, on_ready=on_ready, limits=limits
        )
        return
    from refund_registry.cli.serving_workers import serve_workers

    serve_workers(live, sock, count, limits=limits, on_ready=on_ready)


def _worker_count(args: argparse.Namespace, live: Settings) -> int:
    """``--workers``, else ``REGISTRY_WORKERS``, else the default of ``cli/workers.py``."""
    count = args.workers if args.workers is not None else live.workers
    if count is not None and count < 0:
        raise CommandError("--workers must be 1 or more")
    return count or workers.default_workers(live)


def _parts(embedded: EmbeddedServers | None, child: KeyServiceChild | None) -> list[Part]:
    """What ``serve`` started and keeps running, in the order they depend on each other."""
    parts: list[Part] = []
    if embedded is not None and embedded.want_postgres:
        parts.append(
            Part("embedded PostgreSQL", embedded.postgres_alive, embedded.restart_postgres)
        )
    if embedded is not None and embedded.want_valkey:
        parts.append(Part("embedded Valkey", embedded.valkey_alive, embedded.restart_valkey))
    if child is not None:
        parts.append(Part("key service", child.alive, child.restart))
    return parts


def with_public_url(settings: Settings) -> Settings:
    """Outside production, the public URL follows ``--host``/``--port`` unless it was set.

    The risk answer's notice sends buyers to ``{public_url}/portal``; on a
    laptop that must be the address this ``serve`` really listens on.
    """
    if "public_url" in settings.given or settings.environment == "production":
        return settings
    from refund_registry.http.keyservice_proxy import connectable_host

    host = connectable_host(settings.host)
    return settings.with_overrides(public_url=f"http://{host}:{settings.port}")


def _announce(live: Settings, count: int, out: TextIO) -> None:
    """The API accepts requests and its key service answers: say so, once."""
    url = f"http://{live.host}:{live.port}"
    log.info(
        "serving",
        extra={
            "url": url,
            "keyservice_url": live.keyservice_url,
            "data_dir": str(live.data_dir),
            "workers": count,
        },
    )
    out.write(
        f"Refund Registry ready at {url} (key service {live.keyservice_url}, "
        f"data in {live.data_dir}, {count} worker{'s' if count != 1 else ''})\n"
    )
    out.flush()


def _keyservice_port(args: argparse.Namespace, live: Settings) -> int:
    """``--keyservice-port``, else ``REGISTRY_KEYSERVICE_PORT``, else a free port.

    A port that is given must be free now: were another key service there,
    the API would quietly talk to it while this child failed to bind.
    """
    if args.keyservice_port is not None:
        port, source = int(args.keyservice_port), "--keyservice-port"
    elif "keyservice_port" in live.given:
        port, source = live.keyservice_port, "REGISTRY_KEYSERVICE_PORT"
    else:
        return serving.free_port(live.host)
    if port == live.port:
        raise CommandError(f"{source} {port} is the API's own port; pick another")
    try:
        serving.listen(live.host, port).close()
    except CommandError as exc:
        raise CommandError(
            f"cannot use {source} {port} for the key service: {exc}; "
            "pick another port, or leave it unset to use a free one"
        ) from None
    return port


def _child_url(live: Settings) -> str:
    from refund_registry.http.keyservice_proxy import keyservice_base_url

    return keyservice_base_url(live)
