"""``refund-registry audit``: the tamper-evident access log.

``audit verify`` is the auditor's verifier from the client package
(:mod:`refund_registry.client.verify`): it talks to the registry over HTTP
only, like any auditor running it elsewhere. Its output is its report alone:
the HTTP client's per-request log lines are silenced below WARNING.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, TextIO

from refund_registry.client import verify

QUIET_LOGGERS = ("httpx", "httpcore")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident access log")
    asub = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = asub.add_parser(
        "verify",
        help="verify the access log end to end (exit 0 only if it holds)",
        description="Fetch the signed checkpoints and every entry, check the Merkle proofs "
        "and the entries' signatures; exit 0 if the log holds, 1 if not, 2 for bad arguments.",
    )
    verify.add_arguments(check)
    check.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return verify.run(args, out)
