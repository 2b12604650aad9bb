"""Evidence check for member reviewers: facts about claim photos, never a score.

A buyer who fakes damage for a "refund only" claim usually starts from the
merchant's own photo (the listing image or a dispatch photo) and paints a crack,
stain or tear into it with an AI tool. This package finds facts that a reviewer
can check for themselves:

* the photo carries an **AI-generation label**: a C2PA manifest declaring
  trained-algorithmic media, validated with the ``c2pa-python`` bindings; the
  GB 45438-2025 implicit label (``TC260:AIGC`` in the XMP packet); an IPTC
  ``DigitalSourceType`` of AI media in the XMP packet;
* the photo is **derived from a reference**: it is reference X with N basis
  points of its area changed, there (bounding boxes), found by perceptual hash,
  feature alignment and a difference mask, with an overlay picture;
* **capture metadata**: no camera data, a tag naming an editing or generation
  tool, a capture time after the claim was filed.

Everything runs in the member's own process; the registry never sees an image.
The findings go into a canonical JSON document whose SHA-256 joins the member's
evidence bundle behind ``evidence_digest`` (:func:`bundle_digest`).

The package is an optional extra (``pip install 'refund-registry[evidence]'``):
importing it without the extra raises :class:`EvidenceExtraMissing`, an
``ImportError`` that names the missing packages and the install command. The
registry server never imports it (an import-linter contract checks that).

Use::

    from refund_registry.client import evidence

    report = evidence.check(["claim.jpg"], ["listing.jpg", "dispatch.jpg"],
                            claimed_at=datetime(2026, 11, 8, 10, tzinfo=UTC))
    report.evidence_kinds          # ("photo_forensics",) when a label or derivation holds
    report.canonical_json()        # bytes: save them as findings.json in the bundle
    evidence.bundle_digest(file_digests, report)   # the report's evidence_digest
"""

from __future__ import annotations

import importlib.util

# Import name -> distribution name, for the message when the extra is missing.
# ``c2pa`` is not here: without it the check still runs and says, as a
# finding, that the C2PA reader is unavailable.
_REQUIRED = {
    "numpy": "numpy",
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
    "imagehash": "imagehash",
}


class EvidenceExtraMissing(ImportError):
    """The optional ``evidence`` extra is not installed."""


def _missing() -> list[str]:
    missing = []
    for module, dist in _REQUIRED.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(dist)
    return missing


if _absent := _missing():
    raise EvidenceExtraMissing(
        "the evidence check needs the optional extra: pip install 'refund-registry[evidence]' "
        f"(missing: {', '.join(_absent)})"
    )

from refund_registry.client.evidence.bundle import (  # noqa: E402
    FINDINGS_FILE,
    BundleError,
    bundle_digest,
    bundle_manifest,
    canonical_json,
)
from refund_registry.client.evidence.check import Photo, check  # noqa: E402
from refund_registry.client.evidence.model import (  # noqa: E402
    EvidenceReport,
    Finding,
    PhotoInfo,
    Region,
)

__all__ = [
    "FINDINGS_FILE",
    "BundleError",
    "EvidenceExtraMissing",
    "EvidenceReport",
    "Finding",
    "Photo",
    "PhotoInfo",
    "Region",
    "bundle_digest",
    "bundle_manifest",
    "canonical_json",
    "check",
]
