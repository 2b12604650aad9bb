"""``refund-registry console``: sign-in links and identity-provider accounts of staff.

``link`` prints a one-time sign-in link to the staff console for an existing,
active principal (an adjudicator, a member, an auditor): single use, valid 10
minutes; only its hash is stored. ``map-oidc`` lets an account of the
organisation's OpenID Connect provider (its issuer and ``sub``) sign in as a
principal; ``unmap-oidc`` undoes that.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, TextIO
from urllib.parse import urlencode

from refund_registry.cli.common import (
    CommandError,
    backing_servers,
    json_option,
    load_settings,
    migrate_schema,
    with_pool,
)
from refund_registry.cli.output import write_fields, write_json


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    console = sub.add_parser(
        "console",
        help="staff console: one-time sign-in links, identity-provider accounts",
        description="Sign staff in to the console at /console: print a one-time link, or "
        "map an OpenID Connect account to a principal.",
    )
    csub = console.add_subparsers(dest="action", required=True, metavar="ACTION")
    as_json = json_option()
    parents = [common, as_json]

    link = csub.add_parser(
        "link",
        parents=parents,
        help="print a one-time sign-in link for a principal",
        description="Print a link that signs its user in to the staff console as the "
        "principal: it works once, within 10 minutes. Hand it to that person only.",
    )
    link.add_argument("--principal", required=True, metavar="ID", help="principal id")

    for name, what in (("map-oidc", "let"), ("unmap-oidc", "stop letting")):
        mapping = csub.add_parser(
            name,
            parents=parents,
            help=f"{what} an identity-provider account sign in as a principal",
        )
        mapping.add_argument(
            "--issuer", required=True, help="the provider's issuer URL (its `iss`)"
        )
        mapping.add_argument("--subject", required=True, help="the account's `sub` claim")
        if name == "map-oidc":
            mapping.add_argument("--principal", required=True, metavar="ID", help="principal id")
    console.set_defaults(handler=cmd_console)
    for parser in csub.choices.values():
        parser.set_defaults(handler=cmd_console)


def sign_in_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/console/signin?{urlencode({'token': token})}"


def cmd_console(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.services.staff_signin import StaffSignIn

    settings = load_settings(args)

    async def work(pool: Any) -> dict[str, Any]:
        staff = StaffSignIn(pool)
        if args.action == "link":
            issued = await staff.issue_link(args.principal)
            return {
                "url": sign_in_url(settings.public_url, issued.token),
                "principal": issued.principal_id,
                "name": issued.name,
                "role": issued.role,
                "expires_at": issued.expires_at.isoformat(timespec="seconds"),
            }
        if args.action == "map-oidc":
            return await staff.map_subject(args.issuer, args.subject, args.principal)
        if args.action == "unmap-oidc":
            return await staff.unmap_subject(args.issuer, args.subject)
        raise CommandError(f"unknown action {args.action}")

    with backing_servers(settings) as live:
        migrate_schema(live)
        try:
            result = asyncio.run(with_pool(live, work))
        except OSError as exc:
            raise CommandError(f"PostgreSQL: {exc.strerror or exc}") from exc
    if args.json:
        write_json(out, result)
    else:
        write_fields(out, result)
    return 0
