"""``refund-registry audit``: the tamper-evident access log.

``audit verify`` is the auditor's verifier from the client package
(:mod:`refund_registry.client.verify`): it talks to the registry over HTTP
only, like any auditor running it elsewhere. Its output is its report alone:
the HTTP client's per-request log lines are silenced below WARNING.

``audit receipt`` checks receipts offline, either version, against the log's
pinned verifier key (:func:`refund_registry.client.check_receipt_signature`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from refund_registry.client import check_receipt_signature, verify
from refund_registry.domain.checkpoint import CheckpointError, parse_verifier_key

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
    receipt = asub.add_parser(
        "receipt",
        help="check receipts (version 1 or 2) against the log key, offline",
        description="Check that each receipt (a JSON object, or an answer holding "
        "'receipt' or 'results') is signed by the log key: version 1 by its own signature, "
        "version 2 by its Merkle path to its group commit's signed root. Exit 0 if every "
        "receipt holds, 1 if one does not, 2 for bad arguments.",
    )
    receipt.add_argument("files", nargs="*", help="JSON files (default: standard input)")
    receipt.add_argument(
        "--verifier-key",
        help=f"the log's verifier key, pinned out of band (or ${verify.ENV_VERIFIER_KEY})",
    )
    receipt.set_defaults(handler=cmd_receipt)


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return verify.run(args, out)


def receipts_in(document: Any) -> list[Any]:
    """The receipts of a receipt, an answer with one, a batch answer, or a list of those."""
    if isinstance(document, list):
        return [r for item in document for r in receipts_in(item)]
    if isinstance(document, dict):
        if "leaf_hash" in document:
            return [document]
        if isinstance(document.get("receipt"), dict):
            return [document["receipt"]]
        if isinstance(document.get("results"), list):
            return receipts_in(document["results"])
    return []


def cmd_receipt(args: argparse.Namespace, out: TextIO) -> int:
    text_key = args.verifier_key or os.environ.get(verify.ENV_VERIFIER_KEY)
    if not text_key:
        sys.stderr.write("refund-registry audit receipt: --verifier-key is needed\n")
        return 2
    try:
        key = parse_verifier_key(text_key).public_key
    except CheckpointError as exc:
        sys.stderr.write(f"refund-registry audit receipt: {exc.detail}\n")
        return 2
    try:
        texts = [Path(f).read_text(encoding="utf-8") for f in args.files] or [sys.stdin.read()]
        found = [r for text in texts for r in receipts_in(json.loads(text))]
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"refund-registry audit receipt: {exc}\n")
        return 2
    if not found:
        sys.stderr.write("refund-registry audit receipt: no receipt in the input\n")
        return 2
    failed = 0
    for receipt in found:
        version = receipt.get("v", 1)
        try:
            check_receipt_signature(receipt, key)
        except CheckpointError as exc:
            failed += 1
            out.write(f"FAILED {receipt.get('leaf_hash')} (v{version}): {exc.detail}\n")
        else:
            out.write(f"VERIFIED {receipt['leaf_hash']} (v{version}) logged at "
                      f"{receipt['logged_at']}\n")  # fmt: skip
    return 1 if failed else 0
