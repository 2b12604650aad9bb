"""``refund-registry keyservice``: the OPRF key service as its own process."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from refund_registry.cli.common import (
    CommandError,
    backing_servers,
    exclusive,
    load_settings,
    migrate_schema,
)
from refund_registry.config import ConfigError


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    ks = sub.add_parser("keyservice", parents=[common], help="run the OPRF key service")
    ks.add_argument("--port", type=int, dest="keyservice_port")
    ks.add_argument("--host")
    ks.set_defaults(handler=cmd_keyservice)


def cmd_keyservice(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.keyservice.app import run_keyservice

    settings = load_settings(args)
    if args.keyservice_port is not None:
        settings = settings.with_overrides(keyservice_port=args.keyservice_port)
    with exclusive(settings.data_dir, "keyservice"), backing_servers(settings) as live:
        migrate_schema(live)
        try:
            run_keyservice(live)
        except ConfigError as exc:
            raise CommandError("; ".join(exc.problems)) from None
    return 0
