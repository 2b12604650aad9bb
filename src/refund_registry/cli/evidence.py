"""``refund-registry evidence check``: the evidence check for a reviewer without code.

It runs the member SDK's check (``refund_registry.client.evidence``, the
optional ``evidence`` extra) on local files and prints the findings. Nothing is
sent anywhere. Without the extra the command says, on one line, how to
install it; the rest of the command line never loads the image libraries.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from refund_registry.cli.common import CommandError, UsageError, read_file


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    evidence = sub.add_parser(
        "evidence",
        help="check claim photos against the merchant's own photos (needs the evidence extra)",
    )
    esub = evidence.add_subparsers(dest="action", required=True)
    check = esub.add_parser(
        "check",
        help="AI labels, derivation from a reference photo, capture metadata",
        description="Check claim photos for AI-generation labels (C2PA, GB 45438-2025), for "
        "being a reference photo with a region changed, and for capture metadata. Runs "
        "locally; no image leaves this machine. Install with: pip install "
        "'refund-registry[evidence]'.",
    )
    check.add_argument("claims", nargs="+", metavar="CLAIM", help="the buyer's photo files")
    check.add_argument(
        "--reference",
        dest="references",
        action="extend",
        nargs="+",
        default=None,
        metavar="FILE",
        help="listing images, dispatch photos or video frames of the item (repeatable)",
    )
    check.add_argument(
        "--claimed-at",
        metavar="TIME",
        help="when the claim was filed, RFC 3339 with a zone (2026-11-08T10:00:00Z)",
    )
    check.add_argument(
        "--trust-anchors",
        metavar="PEM",
        help="PEM file of C2PA trust anchors to accept (a signer chaining to one is 'trusted')",
    )
    check.add_argument(
        "--overlay",
        metavar="PNG",
        help="write a picture marking the changed regions (one claim: this file; "
        "several: NAME-<index>.png)",
    )
    check.add_argument(
        "--save-findings",
        metavar="FILE",
        help="write the canonical findings document (findings.json of the evidence bundle)",
    )
    check.add_argument(
        "--json", action="store_true", help="print the canonical findings document instead"
    )
    check.set_defaults(handler=cmd_check)


def _load_module() -> Any:
    try:
        from refund_registry.client import evidence
    except ImportError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if type(exc).__name__ == "EvidenceExtraMissing":
            raise CommandError(first) from None
        raise CommandError(f"the evidence check could not load its libraries: {first}") from None
    return evidence


def _claimed_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--claimed-at {text!r}: not an RFC 3339 time") from None
    if value.tzinfo is None:
        raise UsageError(f"--claimed-at {text!r}: give the zone (Z or +08:00)")
    return value


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    evidence = _load_module()
    claimed_at = _claimed_at(args.claimed_at)
    claims = [(Path(p).name, read_file(p, "claim photo")) for p in args.claims]
    references = [(Path(p).name, read_file(p, "reference photo")) for p in args.references or []]
    anchors = None
    if args.trust_anchors:
        anchors = read_file(args.trust_anchors, "trust anchors").decode("utf-8", "replace")
    report = evidence.check(claims, references, claimed_at=claimed_at, trust_anchors=anchors)
    document: bytes = report.canonical_json()
    if args.save_findings:
        _write(Path(args.save_findings), document)
    written = _write_overlays(args.overlay, report.overlays)
    if args.json:
        out.write(document.decode("utf-8") + "\n")
        return 0
    for photo in report.photos:
        if photo.role != "claim":
            continue
        out.write(f"claim {photo.index}: {photo.name} (sha256 {photo.sha256[:16]}…)\n")
        mine = report.for_claim(photo.index)
        if not mine:
            out.write("  no finding\n")
        for finding in mine:
            tag = "counts" if finding.counts else "note  "
            out.write(f"  [{tag}] {finding.kind}: {finding.statement}\n")
    for finding in report.for_claim(-1):
        out.write(f"[note] {finding.kind}: {finding.statement}\n")
    kinds = ", ".join(report.evidence_kinds) or "none (no label or derivation finding holds)"
    out.write(f"evidence_kinds: {kinds}\n")
    out.write(f"findings.json sha256: {report.findings_sha256()}\n")
    for path in written:
        out.write(f"overlay written: {path}\n")
    return 0


def _write(path: Path, data: bytes) -> None:
    try:
        path.expanduser().write_bytes(data)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def _write_overlays(target: str | None, overlays: dict[int, bytes]) -> list[Path]:
    if not target or not overlays:
        return []
    path = Path(target)
    written = []
    for index, png in sorted(overlays.items()):
        where = path if len(overlays) == 1 else path.with_name(f"{path.stem}-{index}.png")
        _write(where, png)
        written.append(where)
    return written
