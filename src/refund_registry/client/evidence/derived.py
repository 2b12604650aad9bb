"""Derived from a reference: which reference a claim photo is, and what was changed.

The method, in order (all numbers are the defaults below):

1. Both photos are scaled so that their longer side is at most ``WORK_SIDE``
   pixels. A 64-bit perceptual hash (``imagehash.phash``) of each ranks the
   references by Hamming distance; they are tried nearest first.
2. ORB features (OpenCV) are matched between claim and reference (Hamming
   distance, Lowe's ratio test) and a homography is fitted with RANSAC. The
   claim is taken to be that reference when at least ``MIN_INLIERS`` matches
   agree with it, they are at least ``MIN_INLIER_BP`` of the ratio-test
   matches, the mapping is a plausible camera-free transform (no flip, scale
   between 1/4 and 4) and the reference covers at least ``MIN_COVERAGE_BP`` of
   the claim. Cropping, resizing and re-encoding keep these conditions; an
   unrelated photo does not meet them.
3. The reference is warped onto the claim and both are smoothed (Gaussian,
   sigma 1). A pixel is *changed* when its colour differs by more than
   ``DIFF_THRESHOLD`` levels (of 255, in any channel) from every reference pixel
   within ``TOLERANCE_PX`` pixels, or the other way round; this tolerance
   absorbs the small misalignment and resampling of step 2. Specks are
   removed, nearby changes joined, and areas below ``MIN_REGION_BP`` dropped.
4. The changed share is changed pixels over compared pixels (the part of the
   claim the reference covers), in basis points; each region is a bounding box
   in the claim photo's own pixels.

The finding is made only when the changed share is at most ``MAX_CHANGED_BP``:
beyond that the claim is not "the reference with a region changed" but another
photo that merely shares features (a new photo of the same product, say).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import cv2
import imagehash
import numpy as np
import numpy.typing as npt
from PIL import Image

from refund_registry.client.evidence.model import Region

WORK_SIDE = 640
ORB_FEATURES = 1000
RATIO = 0.75
RANSAC_PX = 4.0
MIN_INLIERS = 25
MIN_INLIER_BP = 2500
MIN_COVERAGE_BP = 5000
DIFF_THRESHOLD = 32
TOLERANCE_PX = 2
MIN_REGION_BP = 5
MAX_CHANGED_BP = 3000
MAX_REGIONS = 8

# OpenCV's stubs type every array loosely; the pixel arrays here are uint8.
U8 = npt.NDArray[Any]


@dataclass(frozen=True)
class Prepared:
    """A photo ready for comparison: scaled pixels, hash and features."""

    rgb: U8  # scaled, H×W×3
    scale: float  # original pixels per scaled pixel
    phash: imagehash.ImageHash
    keypoints: tuple[cv2.KeyPoint, ...]
    descriptors: U8 | None


@dataclass(frozen=True)
class Derivation:
    """A claim photo matched to a reference, with the measured change."""

    reference: int
    phash_distance: int
    matches: int
    inliers: int
    coverage_bp: int
    changed_bp: int
    regions: tuple[Region, ...]
    mask: U8  # changed pixels at work scale, claim frame
    valid: U8  # compared pixels at work scale


def prepare(upright: Image.Image) -> Prepared:
    """Scale, hash and find features once per photo (references are reused across claims)."""
    full: U8 = np.asarray(upright, dtype=np.uint8)
    scale = max(upright.width, upright.height) / WORK_SIDE
    if scale > 1:
        size = (max(1, round(upright.width / scale)), max(1, round(upright.height / scale)))
        # Blur then sample: antialiased like INTER_AREA, at a tenth of its cost for
        # the non-integer ratios phone photos give.
        smooth = cv2.GaussianBlur(full, (0, 0), 0.5 * scale)
        rgb: U8 = cv2.resize(smooth, size, interpolation=cv2.INTER_LINEAR)
    else:
        scale, rgb = 1.0, full
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    orb = cv2.ORB.create(nfeatures=ORB_FEATURES, fastThreshold=12)
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    # The hash only needs a thumbnail; giving it one spares it a large resampling.
    thumb = cv2.resize(gray, (128, 128), interpolation=cv2.INTER_AREA)
    return Prepared(
        rgb=rgb,
        scale=scale,
        phash=imagehash.phash(Image.fromarray(thumb)),
        keypoints=tuple(keypoints),
        descriptors=descriptors,
    )


def find_derivation(claim: Prepared, references: Sequence[Prepared | None]) -> Derivation | None:
    """The reference this claim photo comes from, nearest perceptual hash first, or None."""
    order = sorted(
        (int(claim.phash - ref.phash), index)
        for index, ref in enumerate(references)
        if ref is not None
    )
    for distance, index in order:
        ref = references[index]
        assert ref is not None
        found = _align(claim, ref)
        if found is None:
            continue
        homography, matches, inliers = found
        derivation = _compare(claim, ref, homography, index, distance, matches, inliers)
        if derivation is not None:
            return derivation
    return None


def _align(claim: Prepared, ref: Prepared) -> tuple[npt.NDArray[Any], int, int] | None:
    if claim.descriptors is None or ref.descriptors is None:
        return None
    if len(claim.keypoints) < MIN_INLIERS or len(ref.keypoints) < MIN_INLIERS:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(claim.descriptors, ref.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = np.array([ref.keypoints[m.trainIdx].pt for m in good], np.float32).reshape(-1, 1, 2)
    dst = np.array([claim.keypoints[m.queryIdx].pt for m in good], np.float32).reshape(-1, 1, 2)
    # Either may be None when no model is found, whatever the stubs say.
    homography, inlier_mask = cast(
        tuple[Any, Any],
        cv2.findHomography(src, dst, cv2.RANSAC, RANSAC_PX, maxIters=1000, confidence=0.995),
    )
    if homography is None or inlier_mask is None:
        return None
    inliers = int(inlier_mask.sum())
    if inliers < MIN_INLIERS or inliers * 10000 < MIN_INLIER_BP * len(good):
        return None
    if not _plausible(homography):
        return None
    return homography.astype(np.float64), len(good), inliers


def _plausible(h: npt.NDArray[Any]) -> bool:
    """No mirror image, no extreme zoom, only mild perspective."""
    det = float(np.linalg.det(h[:2, :2]))
    if det <= 0 or not (1 / 16 <= det <= 16):
        return False
    return abs(float(h[2, 0])) < 0.002 and abs(float(h[2, 1])) < 0.002


def _compare(
    claim: Prepared,
    ref: Prepared,
    homography: npt.NDArray[Any],
    index: int,
    distance: int,
    matches: int,
    inliers: int,
) -> Derivation | None:
    height, width = claim.rgb.shape[:2]
    warped = cv2.warpPerspective(
        ref.rgb, homography, (width, height), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
    )
    ones = np.full(ref.rgb.shape[:2], 255, dtype=np.uint8)
    valid = cv2.warpPerspective(ones, homography, (width, height), flags=cv2.INTER_NEAREST)
    # Warping leaves a resampled seam at the reference's edges: do not judge it.
    valid = cv2.erode(valid, np.ones((7, 7), np.uint8))
    valid_count = int(np.count_nonzero(valid))
    coverage_bp = valid_count * 10000 // (width * height)
    if coverage_bp < MIN_COVERAGE_BP:
        return None
    mask = _difference(claim.rgb, warped, valid)
    changed = int(np.count_nonzero(mask))
    changed_bp = _bp(changed, valid_count)
    if changed_bp > MAX_CHANGED_BP:
        return None
    regions = _regions(mask, valid_count, claim.scale)
    return Derivation(
        reference=index,
        phash_distance=distance,
        matches=matches,
        inliers=inliers,
        coverage_bp=coverage_bp,
        changed_bp=changed_bp,
        regions=regions,
        mask=mask,
        valid=valid,
    )


def _bp(part: int, whole: int) -> int:
    """``part / whole`` in basis points, rounded half up, in integers only."""
    return (part * 20000 + whole) // (2 * whole) if whole else 0


def _difference(claim: U8, warped: U8, valid: U8) -> U8:
    a = cv2.GaussianBlur(claim, (0, 0), 1.0).astype(np.int16)
    b = cv2.GaussianBlur(warped, (0, 0), 1.0).astype(np.int16)
    size = 2 * TOLERANCE_PX + 1
    kernel = np.ones((size, size), np.uint8)
    b_hi, b_lo = cv2.dilate(b, kernel), cv2.erode(b, kernel)
    a_hi, a_lo = cv2.dilate(a, kernel), cv2.erode(a, kernel)
    # Distance of each pixel from the other image's local range, per channel.
    d_claim = np.maximum(np.maximum(a - b_hi, b_lo - a), 0)
    d_ref = np.maximum(np.maximum(b - a_hi, a_lo - b), 0)
    diff = np.maximum(d_claim, d_ref).max(axis=2)
    mask: U8 = np.where((diff > DIFF_THRESHOLD) & (valid > 0), 255, 0).astype(np.uint8)
    mask = cv2.medianBlur(mask, 3)
    mask = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    )
    mask = cv2.bitwise_and(mask, valid)
    return mask


def _regions(mask: U8, valid_count: int, scale: float) -> tuple[Region, ...]:
    # Join nearby changes into one region: a crack drawn in strokes is one change.
    joined = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    found = []
    for label in range(1, count):
        changed = int(np.count_nonzero(mask[labels == label]))
        area_bp = _bp(changed, valid_count)
        if area_bp < MIN_REGION_BP:
            continue
        x, y, w, h = (int(v) for v in stats[label, :4])
        found.append(
            Region(
                x=int(x * scale),
                y=int(y * scale),
                width=max(1, round(w * scale)),
                height=max(1, round(h * scale)),
                area_bp=area_bp,
            )
        )
    found.sort(key=lambda r: (-r.area_bp, r.y, r.x))
    return tuple(found[:MAX_REGIONS])


def overlay_png(claim: Prepared, derivation: Derivation, caption: str) -> bytes:
    """The claim photo with changed pixels tinted red and regions boxed, as a small PNG."""
    bgr = cv2.cvtColor(claim.rgb, cv2.COLOR_RGB2BGR)
    shade = bgr.copy()
    shade[derivation.valid == 0] = (shade[derivation.valid == 0] * 0.5).astype(np.uint8)
    red = np.zeros_like(bgr)
    red[:, :] = (0, 0, 255)
    tinted = cv2.addWeighted(shade, 0.45, red, 0.55, 0)
    out = np.where(derivation.mask[:, :, None] > 0, tinted, shade)
    for region in derivation.regions:
        x0 = int(region.x / claim.scale)
        y0 = int(region.y / claim.scale)
        x1 = int((region.x + region.width) / claim.scale)
        y1 = int((region.y + region.height) / claim.scale)
        cv2.rectangle(out, (x0, y0), (x1, y1), (0, 255, 255), 2)
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, caption, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    ok, png = cv2.imencode(".png", out, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return bytes(png.tobytes())
