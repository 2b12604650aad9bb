"""The evidence check finds the reference a claim photo was made from, and what was changed.

Every picture is drawn here: a rendered product photo (the merchant's listing
image), the same photo with a crack or a stain painted in, then re-encoded as
JPEG, scaled down and cropped as a buyer's upload would be, and an unrelated
photo. The painted mask is carried through the same crop and scale, so the
located region can be compared with the truth.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from refund_registry.client import evidence

SIZE = 900
# The located region's box must overlap the painted one this much (intersection over union).
MIN_IOU = 0.5


def product_photo(seed: int = 7) -> Image.Image:
    """A product box with printed stripes, a logo, small marks and text, on a table."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    background = np.stack(
        [200 + 30 * xx / SIZE, 205 + 20 * yy / SIZE, 215 - 25 * xx / SIZE], axis=-1
    ) + rng.normal(0, 2, (SIZE, SIZE, 3))
    image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = int(SIZE * 0.22), int(SIZE * 0.18), int(SIZE * 0.78), int(SIZE * 0.84)
    draw.rounded_rectangle((x0 + 12, y0 + 14, x1 + 12, y1 + 14), 30, fill=(120, 120, 130))
    draw.rounded_rectangle(
        (x0, y0, x1, y1), 30, fill=(235, 232, 225), outline=(60, 60, 70), width=4
    )
    for k in range(9):
        y = y0 + 40 + k * (y1 - y0 - 80) // 9
        draw.rectangle((x0 + 30, y, x1 - 30, y + 10), fill=_colour(rng, 30, 200))
    draw.ellipse(
        (int(SIZE * 0.40), int(SIZE * 0.30), int(SIZE * 0.60), int(SIZE * 0.50)),
        fill=(200, 40, 40),
        outline=(20, 20, 20),
        width=5,
    )
    for _ in range(40):
        cx, cy = int(rng.integers(x0 + 40, x1 - 40)), int(rng.integers(y0 + 40, y1 - 40))
        r = int(rng.integers(4, 14))
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=_colour(rng, 0, 255))
    draw.text((x0 + 50, y1 - 80), "ACME PHONE X9  128GB", fill=(10, 10, 10), font_size=36)
    for _ in range(25):
        cx, cy = int(rng.integers(0, SIZE)), int(rng.integers(0, SIZE))
        if x0 - 20 < cx < x1 + 20 and y0 - 20 < cy < y1 + 20:
            continue
        r = int(rng.integers(6, 30))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=_colour(rng, 0, 160), width=3)
    return image


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in rng.integers(low, high, 3))
    return r, g, b


def paint_crack(image: Image.Image, seed: int = 3) -> tuple[Image.Image, Image.Image]:
    """Dark branching strokes in the lower right of the box; returns (photo, true mask)."""
    rng = np.random.default_rng(seed)
    out, mask = image.copy(), Image.new("L", image.size, 0)
    draw, mark = ImageDraw.Draw(out), ImageDraw.Draw(mask)
    bx0, by0, bx1, by1 = (int(f * SIZE) for f in (0.45, 0.55, 0.70, 0.75))
    for branch in range(3):
        x, y = bx0 + (bx1 - bx0) * 0.1, by0 + (by1 - by0) * (0.2 + 0.3 * branch)
        points = [(x, y)]
        angle = float(rng.uniform(-0.4, 0.4))
        while bx0 <= x <= bx1 and by0 <= y <= by1 and len(points) <= 40:
            angle += float(rng.normal(0, 0.35))
            step = float(rng.uniform(10, 25))
            x, y = x + step * math.cos(angle), y + step * math.sin(angle)
            points.append((min(max(x, bx0), bx1), min(max(y, by0), by1)))
        draw.line(points, fill=(25, 22, 20), width=5, joint="curve")
        mark.line(points, fill=255, width=5)
    return out, mask


def paint_stain(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """A soft brown blot on the lower left of the box; returns (photo, true mask)."""
    mask = Image.new("L", image.size, 0)
    box = tuple(int(f * SIZE) for f in (0.30, 0.55, 0.50, 0.72))
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    alpha = mask.filter(ImageFilter.GaussianBlur(6)).point(lambda v: int(v * 0.65))
    return Image.composite(Image.new("RGB", image.size, (110, 70, 30)), image, alpha), mask


def as_uploaded(image: Image.Image, mask: Image.Image) -> tuple[bytes, Image.Image]:
    """Crop a little, scale to 80 %, save as JPEG quality 82: what a buyer's app sends."""
    w, h = image.size
    box = (int(w * 0.04), int(h * 0.04), int(w * 0.96), int(h * 0.94))
    image, mask = image.crop(box), mask.crop(box)
    size = (int(image.width * 0.8), int(image.height * 0.8))
    image = image.resize(size, Image.Resampling.BILINEAR)
    return jpeg(image, 82), mask.resize(size, Image.Resampling.NEAREST)


def unrelated_photo(seed: int = 99) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (800, 600), (90, 130, 90))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y, r = int(rng.integers(0, 800)), int(rng.integers(0, 600)), int(rng.integers(5, 60))
        draw.rectangle((x, y, x + r, y + r * 0.6), fill=_colour(rng, 0, 255))
    return image


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@dataclass(frozen=True)
class Box:
    x0: int
    y0: int
    x1: int
    y1: int

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)


def true_box(mask: Image.Image) -> Box:
    ys, xs = np.nonzero(np.asarray(mask) > 0)
    return Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


@pytest.fixture(scope="module")
def listing() -> Image.Image:
    return product_photo()


@pytest.fixture(scope="module")
def references(listing: Image.Image) -> list[tuple[str, bytes]]:
    return [("unrelated-shelf.jpg", jpeg(unrelated_photo(5))), ("listing.jpg", jpeg(listing))]


def derived(report: object) -> list[object]:
    return [f for f in report.findings if f.kind == "derived_from_reference"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("paint", [paint_crack, paint_stain], ids=["crack", "stain"])
def test_the_altered_region_of_a_doctored_listing_photo_is_located(
    listing: Image.Image, references: list[tuple[str, bytes]], paint: object
) -> None:
    doctored, mask = paint(listing)  # type: ignore[operator]
    upload, upload_mask = as_uploaded(doctored, mask)
    report = evidence.check([("claim.jpg", upload)], references)
    [finding] = derived(report)
    assert finding.counts
    assert finding.basis["reference"] == 1  # listing.jpg, not the unrelated shelf photo
    assert finding.basis["homography_inliers"] >= 25
    regions = finding.basis["regions"]
    assert regions, finding.statement
    top = regions[0]
    found = Box(top["x"], top["y"], top["x"] + top["width"], top["y"] + top["height"])
    truth = true_box(upload_mask)
    assert found.iou(truth) >= MIN_IOU, (found, truth)
    # The changed share is small and of the right order: the painted area, a little grown.
    painted_bp = int(np.count_nonzero(np.asarray(upload_mask))) * 10000 // upload_mask.size[0]
    painted_bp //= upload_mask.size[1]
    assert painted_bp // 2 <= finding.basis["changed_bp"] <= max(4 * painted_bp, 100)
    assert report.evidence_kinds == ("photo_forensics",)
    assert "listing.jpg" in finding.statement
    overlay = Image.open(io.BytesIO(report.overlays[0]))
    assert overlay.format == "PNG"
    assert max(overlay.size) <= 640


def test_an_unrelated_photo_is_not_matched(references: list[tuple[str, bytes]]) -> None:
    report = evidence.check([("other.jpg", jpeg(unrelated_photo(99)))], references[1:])
    assert derived(report) == []
    assert report.evidence_kinds == ()
    assert report.overlays == {}


def test_the_listing_photo_itself_is_reported_unchanged(
    listing: Image.Image, references: list[tuple[str, bytes]]
) -> None:
    upload, _ = as_uploaded(listing, Image.new("L", listing.size, 0))
    [finding] = derived(evidence.check([upload], references))
    assert finding.basis["changed_bp"] <= 5
    assert "no change found" in finding.statement


def test_the_findings_document_is_canonical_and_names_every_photo(
    listing: Image.Image, references: list[tuple[str, bytes]]
) -> None:
    doctored, mask = paint_stain(listing)
    upload, _ = as_uploaded(doctored, mask)
    report = evidence.check([("claim.jpg", upload)], references, overlays=False)
    document = report.canonical_json()
    parsed = json.loads(document)
    assert evidence.canonical_json(parsed) == document
    assert document == json.dumps(
        parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert [p["role"] for p in parsed["photos"]] == ["claim", "reference", "reference"]
    assert parsed["photos"][2]["name"] == "listing.jpg"
    assert report.overlays == {}


def test_the_cli_prints_the_findings_and_writes_the_overlay(
    tmp_path: Path,
    listing: Image.Image,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from refund_registry.cli.main import main

    doctored, mask = paint_crack(listing)
    (tmp_path / "claim.jpg").write_bytes(as_uploaded(doctored, mask)[0])
    (tmp_path / "listing.jpg").write_bytes(jpeg(listing))
    overlay, saved = tmp_path / "out.png", tmp_path / "findings.json"
    argv = ["evidence", "check", str(tmp_path / "claim.jpg"), "--reference"]
    argv += [str(tmp_path / "listing.jpg"), "--overlay", str(overlay)]
    argv += ["--save-findings", str(saved), "--claimed-at", "2026-11-08T10:00:00+08:00"]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "[counts] derived_from_reference: is reference photo 0 (listing.jpg)" in out
    assert "evidence_kinds: photo_forensics" in out
    assert Image.open(overlay).format == "PNG"
    document = json.loads(saved.read_bytes())
    assert document["claimed_at"] == "2026-11-08T02:00:00Z"
    with pytest.raises(SystemExit):
        main([*argv[:5], "--json"])
    assert json.loads(capsys.readouterr().out)["evidence_kinds"] == ["photo_forensics"]
