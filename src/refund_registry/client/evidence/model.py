"""What a check reports: photos, findings, evidence kinds, the canonical document.

Every number in a finding is an integer (pixels, basis points, counts), so the
canonical JSON has one spelling everywhere. Every finding carries ``basis``:
the values read or measured that the finding rests on, so a reviewer can check
it without trusting a score.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from refund_registry.client.evidence.bundle import canonical_json

FINDINGS_FORMAT = "rr-evidence-findings/1"

# Finding kinds. The first two groups can make ``photo_forensics`` hold; the
# capture-metadata group never does on its own (see docs/evidence.md).
AI_LABEL_KINDS = frozenset({"c2pa_manifest", "gb45438_label", "xmp_digital_source_type"})
DERIVED_KINDS = frozenset({"derived_from_reference"})
CAPTURE_KINDS = frozenset({"no_camera_data", "editing_software", "captured_after_claim"})
NOTICE_KINDS = frozenset({"c2pa_unavailable", "unreadable_photo"})
KINDS = AI_LABEL_KINDS | DERIVED_KINDS | CAPTURE_KINDS | NOTICE_KINDS


@dataclass(frozen=True)
class Region:
    """An axis-aligned box in the claim photo's own pixels, and its share of the photo."""

    x: int
    y: int
    width: int
    height: int
    area_bp: int
    """Changed pixels inside the box, in basis points of the compared area (1 bp = 0.01 %)."""

    def to_json(self) -> dict[str, int]:
        return {
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
            "area_bp": self.area_bp,
        }


@dataclass(frozen=True)
class PhotoInfo:
    """One input photo: which role, its name, and the SHA-256 of its bytes as given."""

    role: str  # "claim" or "reference"
    index: int
    name: str
    sha256: str
    format: str  # Pillow's format name (JPEG, PNG, …), "" when unreadable
    width: int
    height: int

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "index": self.index,
            "name": self.name,
            "sha256": self.sha256,
            "format": self.format,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class Finding:
    """One fact about one claim photo.

    ``counts`` says whether the finding, by itself, makes ``photo_forensics``
    hold. ``basis`` holds what it rests on: strings, integers, booleans and
    lists of them only.
    """

    kind: str
    claim: int  # index of the claim photo; -1 for a notice about the whole check
    counts: bool
    statement: str
    basis: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "claim": self.claim,
            "counts": self.counts,
            "statement": self.statement,
            "basis": dict(self.basis),
        }


@dataclass(frozen=True)
class EvidenceReport:
    """The outcome of :func:`~refund_registry.client.evidence.check`.

    ``overlays`` maps a claim photo's index to a PNG that marks the changed
    regions on it; it is for the reviewer's eyes and is not part of the
    canonical document (save it in the bundle as a file of its own if wanted).
    """

    photos: tuple[PhotoInfo, ...]
    findings: tuple[Finding, ...]
    claimed_at: datetime | None
    tool: Mapping[str, str]
    overlays: Mapping[int, bytes] = field(default_factory=dict)

    @property
    def evidence_kinds(self) -> tuple[str, ...]:
        """``("photo_forensics",)`` when a label or derivation finding counts, else ``()``."""
        return ("photo_forensics",) if any(f.counts for f in self.findings) else ()

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FINDINGS_FORMAT,
            "tool": dict(self.tool),
            "claimed_at": _utc(self.claimed_at),
            "photos": [p.to_json() for p in self.photos],
            "findings": [f.to_json() for f in self.findings],
            "evidence_kinds": list(self.evidence_kinds),
        }

    def canonical_json(self) -> bytes:
        """The findings document, byte for byte as it goes into the bundle (``findings.json``)."""
        return canonical_json(self.to_json())

    def findings_sha256(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def for_claim(self, index: int) -> list[Finding]:
        return [f for f in self.findings if f.claim == index]


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
