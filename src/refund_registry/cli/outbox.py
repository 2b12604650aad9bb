"""``refund-registry outbox``: the codes zero-setup mode "sent", newest first.

With no SMTP server or SMS gateway configured, codes for buyers are written to
``outbox.jsonl`` in the data folder instead (``delivery/outbox.py``). This
command shows them, so a person trying the registry on a laptop can sign in
as a buyer. It reads the file only: no server is started.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from refund_registry.cli.common import load_settings
from refund_registry.cli.output import write_json, write_table


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    outbox = sub.add_parser(
        "outbox",
        parents=[common],
        help="show the codes zero-setup mode wrote instead of sending them",
        description="Show the messages (buyer sign-in codes) written to outbox.jsonl in the "
        "data folder when no SMTP server or SMS gateway is configured, newest first.",
    )
    outbox.add_argument("--json", action="store_true", help="print JSON instead of a table")
    outbox.add_argument(
        "--limit", type=int, default=20, metavar="N", help="show at most N messages (0: all)"
    )
    outbox.set_defaults(handler=cmd_outbox)


def cmd_outbox(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.delivery.outbox import read
    from refund_registry.runtime import OUTBOX_FILE

    settings = load_settings(args)
    entries = list(reversed(read(settings.data_dir / OUTBOX_FILE)))
    if args.limit > 0:
        entries = entries[: args.limit]
    rows = [
        {"at": e.at, "channel": e.channel, "to": e.to, "subject": e.subject, "body": e.body}
        for e in entries
    ]
    if args.json:
        write_json(out, rows)
        return 0
    if not rows:
        out.write(f"the outbox in {settings.data_dir} is empty\n")
        return 0
    write_table(
        out, [("AT", "at"), ("CHANNEL", "channel"), ("TO", "to"), ("MESSAGE", "body")], rows
    )
    return 0
