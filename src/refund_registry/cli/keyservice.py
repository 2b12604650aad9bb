"""``refund-registry keyservice``: the OPRF key service as its own process."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from refund_registry.cli import boundaries
from refund_registry.cli.common import (
    CommandError,
    backing_servers,
    exclusive,
    load_settings,
    migrate_schema,
)
from refund_registry.config import ConfigError, Settings


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    defaults = Settings()
    ks = sub.add_parser(
        "keyservice",
        parents=[common],
        help="run the OPRF key service on its own",
        description="Serve the OPRF key service (production: on its own host, as its own OS "
        "user, with its own key file and database login role; it refuses to run as "
        "REGISTRY_API_USER or where the API's keys are readable). `serve` starts one as a "
        "child by itself in zero-setup mode.",
    )
    ks.add_argument(
        "--port",
        type=int,
        dest="keyservice_port",
        help=f"port to listen on (default: $REGISTRY_KEYSERVICE_PORT, else "
        f"{defaults.keyservice_port})",
    )
    ks.add_argument(
        "--host", help=f"address to listen on (default: $REGISTRY_HOST, else {defaults.host})"
    )
    ks.set_defaults(handler=cmd_keyservice)


def cmd_keyservice(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.keyservice.app import run_keyservice

    settings = load_settings(args)
    if args.keyservice_port is not None:
        settings = settings.with_overrides(keyservice_port=args.keyservice_port)
    refusals = boundaries.keyservice_refusals(settings)
    if refusals:
        raise CommandError("refusing to start: " + "; ".join(refusals))
    with exclusive(settings.data_dir, "keyservice"), backing_servers(settings) as live:
        migrate_schema(live)
        if live.keyservice_database_url:
            # Zero-setup: after migrating, log in as the key service's own role.
            live = live.with_overrides(
                database_url=live.keyservice_database_url, owner_database_url=""
            )
        try:
            run_keyservice(live)
        except ConfigError as exc:
            raise CommandError("; ".join(exc.problems)) from None
    return 0
