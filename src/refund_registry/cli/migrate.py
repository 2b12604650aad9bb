"""``refund-registry migrate``: apply pending schema migrations."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from refund_registry.cli.common import backing_servers, load_settings, migrate_schema


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    migrate = sub.add_parser("migrate", parents=[common], help="apply pending schema migrations")
    migrate.set_defaults(handler=cmd_migrate)


def cmd_migrate(args: argparse.Namespace, out: TextIO) -> int:
    settings = load_settings(args)
    with backing_servers(settings) as live:
        applied = migrate_schema(live)
    out.write(json.dumps({"applied": applied}) + "\n")
    return 0
