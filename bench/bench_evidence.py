"""Evidence-check throughput: checks per second for 1024×1024 photos against 5 references.

In-process, single thread, no network. The references are five rendered
product photos (1024×1024 JPEG); each claim is one 1024×1024 JPEG: a reference
with a crack painted in and re-encoded (the derivation is found, the overlay
drawn), or an unrelated photo (every reference is tried and refused). A check
reads the C2PA store, the XMP and EXIF, hashes and aligns; the references'
features are computed once per check call, so the figures also show a batch of
several claims against the same references. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_evidence.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import io
import math
import platform
import time
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from refund_registry.client import evidence

SIZE = 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    return parser.parse_args()


def jpeg(image: Image.Image, quality: int = 88) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def product(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    tone = rng.integers(150, 220, 3)
    background = np.stack(
        [tone[0] + 30 * xx / SIZE, tone[1] + 20 * yy / SIZE, tone[2] + 0 * xx], -1
    )
    image = Image.fromarray(
        np.clip(background + rng.normal(0, 2, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
    )
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = (
        int(f * SIZE) for f in rng.uniform([0.1, 0.1, 0.7, 0.7], [0.3, 0.3, 0.9, 0.9])
    )
    draw.rounded_rectangle(
        (x0, y0, x1, y1), 30, fill=(235, 232, 225), outline=(60, 60, 70), width=4
    )
    for _ in range(60):
        cx, cy, r = int(rng.integers(x0, x1)), int(rng.integers(y0, y1)), int(rng.integers(4, 18))
        draw.rectangle(
            (cx - r, cy - r, cx + r, cy + r), fill=tuple(int(c) for c in rng.integers(0, 255, 3))
        )
    draw.text((x0 + 40, y1 - 80), f"MODEL {seed:04d}", fill=(10, 10, 10), font_size=40)
    return image


def with_crack(image: Image.Image) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    x, y, angle, points = SIZE * 0.45, SIZE * 0.6, 0.2, []
    for step in range(25):
        angle += math.sin(step * 1.7) * 0.4
        x, y = x + 14 * math.cos(angle), y + 14 * math.sin(angle)
        points.append((x, y))
    draw.line(points, fill=(25, 22, 20), width=5)
    return out


def unrelated() -> Image.Image:
    rng = np.random.default_rng(4242)
    image = Image.new("RGB", (SIZE, SIZE), (90, 130, 90))
    draw = ImageDraw.Draw(image)
    for _ in range(120):
        x, y, r = int(rng.integers(0, SIZE)), int(rng.integers(0, SIZE)), int(rng.integers(5, 80))
        draw.rectangle(
            (x, y, x + r, y + r * 0.6), fill=tuple(int(c) for c in rng.integers(0, 255, 3))
        )
    return image


def rate(seconds: float, run: Callable[[], object], per_call: int = 1) -> tuple[float, float]:
    run()  # warm up: imports, OpenCV's first allocations
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or done == 0:
        run()
        done += 1
    return done * per_call / elapsed, elapsed * 1000 / (done * per_call)


def main() -> None:
    args = parse_args()
    import cv2

    cv2.setNumThreads(1)
    refs = [(f"ref-{i}.jpg", jpeg(product(i))) for i in range(5)]
    doctored = ("doctored.jpg", jpeg(with_crack(product(2)), 82))
    other = ("unrelated.jpg", jpeg(unrelated()))
    sample = evidence.check([doctored, other], refs)
    kinds = [f.kind for f in sample.findings if f.counts]
    print(f"python {platform.python_version()}, {platform.machine()}, tool {dict(sample.tool)}")
    print(f"sanity: counting findings {kinds} (expect one derived_from_reference)")
    cases = [
        ("doctored claim (derived, overlay)", lambda: evidence.check([doctored], refs), 1),
        (
            "doctored claim (no overlay)",
            lambda: evidence.check([doctored], refs, overlays=False),
            1,
        ),
        ("unrelated claim (all 5 refused)", lambda: evidence.check([other], refs), 1),
        (
            "batch of 4 claims, refs prepared once",
            lambda: evidence.check([doctored, other] * 2, refs),
            4,
        ),
    ]
    print(f"{'case':<40} {'checks/s':>9} {'ms/check':>9}")
    for name, run, per_call in cases:
        per_second, ms = rate(args.seconds, run, per_call)
        print(f"{name:<40} {per_second:>9.2f} {ms:>9.1f}")


if __name__ == "__main__":
    main()
