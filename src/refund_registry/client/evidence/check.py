"""``check``: every finding for a set of claim photos against the merchant's references."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from importlib import metadata

import cv2
import PIL

from refund_registry.client.evidence import derived, labels
from refund_registry.client.evidence.capture import capture_findings
from refund_registry.client.evidence.model import EvidenceReport, Finding, PhotoInfo
from refund_registry.client.evidence.photos import Photo, PhotoSource, load, upright_rgb

__all__ = ["Photo", "PhotoSource", "check"]


def _version(dist: str, fallback: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return fallback


def check(
    claim_photos: Sequence[PhotoSource],
    reference_photos: Sequence[PhotoSource] = (),
    *,
    claimed_at: datetime | None = None,
    trust_anchors: str | None = None,
    overlays: bool = True,
) -> EvidenceReport:
    """Check claim photos for AI labels, derivation from a reference, and capture metadata.

    ``reference_photos`` are the merchant's own images of the item: listing
    images, dispatch photos, frames taken from a packing video. Each photo is a
    path, bytes, or ``(name, bytes)``. ``claimed_at`` (aware) is when the buyer
    filed the claim; without it no capture-time finding is made.
    ``trust_anchors`` is PEM text of the C2PA trust anchors the member accepts
    (for example the C2PA trust list); without it a correctly signed manifest
    is reported ``valid`` rather than ``trusted``.

    Raises ``ValueError`` for a naive ``claimed_at`` or no claim photo;
    unreadable photos become findings, not exceptions.
    """
    if not claim_photos:
        raise ValueError("give at least one claim photo")
    if claimed_at is not None and claimed_at.tzinfo is None:
        raise ValueError("claimed_at must be an aware datetime (with a time zone)")
    reader = labels.C2paReader(trust_anchors)
    claims = [load(p, "claim", i) for i, p in enumerate(claim_photos)]
    refs = [load(p, "reference", i) for i, p in enumerate(reference_photos)]
    findings: list[Finding] = []
    if reader.unavailable:
        findings.append(
            Finding(
                kind="c2pa_unavailable",
                claim=-1,
                counts=False,
                statement=("C2PA content credentials were not checked: " + reader.unavailable),
                basis={"reason": reader.unavailable},
            )
        )
    prepared_refs: list[derived.Prepared | None] = []
    for index, ref in enumerate(refs):
        if ref.image is None:
            prepared_refs.append(None)
            findings.append(_unreadable(-1, "reference", index, ref))
        else:
            prepared_refs.append(derived.prepare(upright_rgb(ref.image)))
    rendered: dict[int, bytes] = {}
    for index, claim in enumerate(claims):
        if claim.image is None:
            findings.append(_unreadable(index, "claim", index, claim))
            continue
        image = claim.image
        packet = labels.xmp_packet(image)
        xmp = labels.parse_xmp(packet) if packet else labels.XmpFacts()
        if not reader.unavailable:
            manifest = reader.read(index, claim.data, image.format or "")
            if manifest is not None:
                findings.append(manifest)
        findings.extend(labels.gb45438_findings(index, image, xmp))
        findings.extend(labels.source_type_findings(index, xmp))
        prepared = derived.prepare(upright_rgb(image))
        derivation = derived.find_derivation(prepared, prepared_refs)
        if derivation is not None:
            reference = refs[derivation.reference]
            findings.append(_derived_finding(index, derivation, reference.name))
            if overlays:
                caption = (
                    f"reference {derivation.reference} ({reference.name[:40]}): "
                    f"{derivation.changed_bp / 100:.2f}% changed"
                )
                rendered[index] = derived.overlay_png(prepared, derivation, caption)
        findings.extend(capture_findings(index, image, xmp, claimed_at))
    photos = tuple(_info("claim", i, p) for i, p in enumerate(claims)) + tuple(
        _info("reference", i, p) for i, p in enumerate(refs)
    )
    tool = {
        "refund-registry": _version("refund-registry", "unknown"),
        "c2pa-python": reader.version or "unavailable",
        "opencv": str(cv2.__version__),
        "imagehash": _version("imagehash", "unknown"),
        "pillow": str(PIL.__version__),
    }
    return EvidenceReport(
        photos=photos,
        findings=tuple(findings),
        claimed_at=claimed_at,
        tool=tool,
        overlays=rendered,
    )


def _info(role: str, index: int, photo: Photo) -> PhotoInfo:
    image = photo.image
    return PhotoInfo(
        role=role,
        index=index,
        name=labels.clean(photo.name),
        sha256=photo.sha256,
        format=(image.format or "") if image is not None else "",
        width=image.width if image is not None else 0,
        height=image.height if image is not None else 0,
    )


def _unreadable(claim: int, role: str, index: int, photo: Photo) -> Finding:
    return Finding(
        kind="unreadable_photo",
        claim=claim,
        counts=False,
        statement=f"{role} photo {index} ({labels.clean(photo.name)}) was not checked: "
        f"{photo.problem}",
        basis={"role": role, "index": index, "problem": photo.problem},
    )


def _derived_finding(index: int, derivation: derived.Derivation, name: str) -> Finding:
    regions = derivation.regions
    percent = f"{derivation.changed_bp // 100}.{derivation.changed_bp % 100:02d} %"
    if regions:
        where = "; ".join(f"x {r.x}, y {r.y}, {r.width}×{r.height} px" for r in regions)
        change = f"with {percent} of its area changed, in {len(regions)} region(s): {where}"
    else:
        change = "with no change found (the reference photo itself, re-encoded, scaled or cropped)"
    return Finding(
        kind="derived_from_reference",
        claim=index,
        counts=True,
        statement=f"is reference photo {derivation.reference} ({labels.clean(name)}) {change}",
        basis={
            "reference": derivation.reference,
            "phash_distance": derivation.phash_distance,
            "phash_bits": 64,
            "feature_matches": derivation.matches,
            "homography_inliers": derivation.inliers,
            "compared_bp": derivation.coverage_bp,
            "changed_bp": derivation.changed_bp,
            "regions": [r.to_json() for r in regions],
            "method": {
                "work_side_px": derived.WORK_SIDE,
                "diff_threshold": derived.DIFF_THRESHOLD,
                "tolerance_px": derived.TOLERANCE_PX,
                "min_inliers": derived.MIN_INLIERS,
                "max_changed_bp": derived.MAX_CHANGED_BP,
            },
        },
    )
