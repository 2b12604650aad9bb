"""``refund-registry audit``: the tamper-evident access log.

``audit verify`` is the auditor's verifier from the client package
(:mod:`refund_registry.client.verify`): it talks to the registry over HTTP
only, like any auditor running it elsewhere.
"""

from __future__ import annotations

import argparse
from typing import Any

from refund_registry.client import verify


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident access log")
    asub = audit.add_subparsers(dest="action", required=True)
    check = asub.add_parser(
        "verify",
        parents=[common],
        help="verify the access log end to end (exit 0 only if it holds)",
    )
    verify.add_arguments(check)
    check.set_defaults(handler=verify.run)
