"""``refund-registry migrate``: apply pending schema migrations."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from refund_registry.cli.common import apply_migrations, backing_servers, load_settings


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    migrate = sub.add_parser(
        "migrate",
        parents=[common],
        help="apply pending schema migrations",
        description="Apply pending migrations under an advisory lock, logged in as the "
        "schema owner (REGISTRY_OWNER_DATABASE_URL; outside production DATABASE_URL serves "
        'if it is unset); prints the applied ones as JSON ({"applied": [...]}).',
    )
    migrate.set_defaults(handler=cmd_migrate)


def cmd_migrate(args: argparse.Namespace, out: TextIO) -> int:
    settings = load_settings(args)
    with backing_servers(settings) as live:
        applied = apply_migrations(live)
    out.write(json.dumps({"applied": applied}) + "\n")
    return 0
