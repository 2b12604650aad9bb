"""``refund-registry principals``: members, adjudicators, auditors, admins and their keys."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any, TextIO

from refund_registry.cli.common import (
    CommandError,
    backing_servers,
    load_settings,
    migrate_schema,
    with_pool,
)


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    prin = sub.add_parser(
        "principals", help="members, adjudicators, auditors, admins and their keys"
    )
    psub = prin.add_subparsers(dest="action", required=True)
    add = psub.add_parser("add", parents=[common], help="register a principal and its public key")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=["member", "adjudicator", "auditor", "admin"])
    add.add_argument("--public-key", required=True, help="PEM file: Ed25519 or P-256 public key")
    add_key = psub.add_parser("add-key", parents=[common], help="add a second key (rotation)")
    add_key.add_argument("--id", required=True)
    add_key.add_argument("--public-key", required=True)
    psub.add_parser("list", parents=[common], help="list principals and active key ids")
    revoke = psub.add_parser("revoke", parents=[common], help="revoke a principal or one key")
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--id", help="principal id: revokes the principal and all its keys")
    target.add_argument("--kid", help="key id: revokes only that key (end of a rotation)")
    for action in ("suspend", "reactivate"):
        p = psub.add_parser(action, parents=[common], help=f"{action} a principal")
        p.add_argument("--id", required=True)
    for p in psub.choices.values():
        p.set_defaults(handler=cmd_principals)
    prin.set_defaults(handler=cmd_principals)


def cmd_principals(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.services import principals

    settings = load_settings(args)
    pem = Path(args.public_key).read_bytes() if getattr(args, "public_key", None) else b""

    async def work(pool: Any) -> Any:
        if args.action == "add":
            return await principals.add_principal(pool, name=args.name, role=args.role, pem=pem)
        if args.action == "add-key":
            return await principals.add_key(pool, principal_id=args.id, pem=pem)
        if args.action == "list":
            return await principals.list_all(pool)
        if args.action == "revoke":
            return await principals.revoke(pool, principal_id=args.id, kid=args.kid)
        if args.action == "suspend":
            return await principals.set_status(pool, args.id, "suspended")
        if args.action == "reactivate":
            return await principals.set_status(pool, args.id, "active")
        raise CommandError(f"unknown action {args.action}")

    with backing_servers(settings) as live:
        migrate_schema(live)
        try:
            result = asyncio.run(with_pool(live, work))
        except OSError as exc:
            raise CommandError(str(exc)) from exc
    out.write(json.dumps(result) + "\n")
    return 0
