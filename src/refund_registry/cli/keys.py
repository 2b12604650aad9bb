"""``refund-registry keys``: the registry's own keys."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any, TextIO

from refund_registry.cli.common import CommandError, backing_servers, load_settings, migrate_schema


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="the registry's own keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    rotate = ksub.add_parser(
        "rotate-registry",
        parents=[common],
        help="add a registry HMAC key and re-wrap every subject key (stop the API first)",
    )
    rotate.set_defaults(handler=cmd_rotate_registry_key)


def cmd_rotate_registry_key(args: argparse.Namespace, out: TextIO) -> int:
    """Append a key to the registry keyring and re-wrap every subject key (no record lost).

    Stop the API processes and workers first: they hold the keyring in memory.
    """
    from refund_registry.services import rekey

    settings = load_settings(args)
    with backing_servers(settings) as live:
        migrate_schema(live)
        owner = live.migration_database_url
        if not owner:
            raise CommandError(
                "rotation refused: REGISTRY_OWNER_DATABASE_URL is required in production "
                "(re-wrapping rewrites tables the API's login role may not)"
            )
        try:
            rotation = rekey.begin(live.key_path("registry"))
        except (OSError, ValueError, RuntimeError) as exc:
            raise CommandError(f"rotation refused: {exc}") from exc
        try:
            counts = asyncio.run(rekey.rewrap(owner, rotation))
        except BaseException:
            rekey.finish(rotation, committed=False)
            raise
        rekey.finish(rotation, committed=True)
    out.write(json.dumps(counts) + "\n")
    return 0
