"""Turning what the caller gives (paths or bytes) into named, hashed, decoded photos."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

PhotoSource = str | os.PathLike[str] | bytes | tuple[str, bytes]
"""A file path, the file's bytes, or ``(name, bytes)`` to give bytes a name."""

MAX_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 60_000_000
"""Larger inputs are refused as unreadable: a claim photo is a phone photo, and a
decompression bomb must not take the member's process down."""


@dataclass(frozen=True)
class Photo:
    """One input: its name, exact bytes, SHA-256, and the decoded image (None if unreadable)."""

    name: str
    data: bytes
    sha256: str
    image: Image.Image | None
    """Decoded, not yet rotated: metadata is read from here."""
    problem: str = ""


def load(source: PhotoSource, role: str, index: int) -> Photo:
    """Read and decode one photo; a photo that cannot be read carries ``problem`` instead."""
    if isinstance(source, tuple):
        name, data = source
    elif isinstance(source, bytes):
        name, data = f"{role}-{index}", source
    else:
        path = Path(source)
        name = path.name
        if path.stat().st_size > MAX_BYTES:
            return Photo(name, b"", "", None, f"larger than {MAX_BYTES} bytes")
        data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        return Photo(name, data, digest, None, f"larger than {MAX_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                return Photo(name, data, digest, None, f"more than {MAX_PIXELS} pixels")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return Photo(name, data, digest, None, f"not a readable image ({type(exc).__name__})")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Photo(name, data, digest, None, f"more than {MAX_PIXELS} pixels")
    return Photo(name, data, digest, image)


def upright_rgb(image: Image.Image) -> Image.Image:
    """The pixels as a viewer shows them: EXIF orientation applied, RGB."""
    turned = ImageOps.exif_transpose(image)
    return turned.convert("RGB")
