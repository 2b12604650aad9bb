"""Capture metadata: camera data, editing or generation tools named in tags, capture time.

None of these findings counts towards ``photo_forensics`` by itself: messaging
apps and platforms strip EXIF from honest photos, and clocks can be wrong. They
tell a reviewer where to look.

Read with Pillow from the file as given: EXIF ``Make`` (0x010F), ``Model``
(0x0110), ``Software`` (0x0131), and in the Exif IFD ``DateTimeOriginal``
(0x9003) with ``OffsetTimeOriginal`` (0x9011); XMP ``xmp:CreatorTool``; PNG
text chunks ``Software``, ``parameters`` (Stable Diffusion web UIs), ``prompt``
and ``workflow`` (ComfyUI), ``Dream`` and ``sd-metadata`` (InvokeAI).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import Image

from refund_registry.client.evidence.labels import XmpFacts, clean
from refund_registry.client.evidence.model import Finding

MAKE, MODEL, SOFTWARE = 0x010F, 0x0110, 0x0131
DATETIME_ORIGINAL, OFFSET_ORIGINAL = 0x9003, 0x9011
EXIF_IFD = 0x8769
# Without a recorded offset, an EXIF time is local time somewhere on Earth:
# it is after the claim only if it is later even at the easternmost offset.
MAX_UTC_OFFSET = timedelta(hours=14)

GENERATION_TOOLS = (
    "stable diffusion", "midjourney", "dall-e", "dall·e", "firefly", "imagen", "comfyui",
    "automatic1111", "novelai", "fooocus", "flux", "ideogram", "leonardo", "gemini",
    "chatgpt", "openai", "dreamina", "seedream", "jimeng", "即梦", "doubao", "豆包",
    "tongyi", "通义", "wanx", "万相", "kling", "可灵", "文心一格", "yige", "hunyuan", "混元",
    "liblib", "invokeai",
)  # fmt: skip
EDITING_TOOLS = (
    "photoshop", "gimp", "lightroom", "affinity photo", "pixelmator", "snapseed", "picsart",
    "canva", "meitu", "美图", "醒图", "xingtu", "photoroom", "fotor", "paint.net", "krita",
    "facetune", "remini", "pixlr", "inpaint",
)  # fmt: skip
GENERATOR_PNG_KEYS = ("parameters", "prompt", "workflow", "Dream", "sd-metadata")


def _tool_class(value: str) -> str:
    lowered = value.lower()
    for tools, name in ((GENERATION_TOOLS, "generation"), (EDITING_TOOLS, "editing")):
        for tool in tools:
            pattern = re.escape(tool)
            if tool.isascii():
                pattern = rf"(?<![a-z0-9]){pattern}(?![a-z0-9])"
            if re.search(pattern, lowered):
                return name
    return ""


def _exif(image: Image.Image) -> tuple[dict[int, Any], dict[int, Any]]:
    exif = image.getexif()
    try:
        sub = dict(exif.get_ifd(EXIF_IFD))
    except (KeyError, ValueError, TypeError):
        sub = {}
    return dict(exif), sub


def capture_findings(
    claim: int, image: Image.Image, xmp: XmpFacts, claimed_at: datetime | None
) -> list[Finding]:
    base, sub = _exif(image)
    findings = []
    make = clean(base.get(MAKE, "")) if base.get(MAKE) else ""
    model = clean(base.get(MODEL, "")) if base.get(MODEL) else ""
    original = clean(sub.get(DATETIME_ORIGINAL, "")) if sub.get(DATETIME_ORIGINAL) else ""
    if not (make or model or original):
        findings.append(
            Finding(
                kind="no_camera_data",
                claim=claim,
                counts=False,
                statement=(
                    "has no camera data (EXIF Make, Model and DateTimeOriginal are all absent); "
                    "many apps strip them from honest photos too"
                ),
                basis={
                    "absent": ["Make", "Model", "DateTimeOriginal"],
                    "format": image.format or "",
                },
            )
        )
    tags: list[tuple[str, str]] = []
    if base.get(SOFTWARE):
        tags.append(("exif:Software", clean(base[SOFTWARE])))
    tags.extend(("xmp:CreatorTool", tool) for tool in xmp.creator_tools)
    if isinstance(image.info.get("Software"), str):
        tags.append(("png-text:Software", clean(image.info["Software"])))
    named = [(where, value, _tool_class(value)) for where, value in tags]
    named = [entry for entry in named if entry[2]]
    named.extend(
        (f"png-text:{key}", clean(image.info[key]), "generation")
        for key in GENERATOR_PNG_KEYS
        if isinstance(image.info.get(key), str)
    )
    for where, value, tool_class in named:
        findings.append(
            Finding(
                kind="editing_software",
                claim=claim,
                counts=False,
                statement=f"its metadata names an image {tool_class} tool: {where} = {value!r}",
                basis={"source": where, "value": value, "tool_class": tool_class},
            )
        )
    if original and claimed_at is not None:
        finding = _after_claim(claim, original, sub.get(OFFSET_ORIGINAL), claimed_at)
        if finding is not None:
            findings.append(finding)
    return findings


def _after_claim(claim: int, original: str, offset: object, claimed_at: datetime) -> Finding | None:
    try:
        local = datetime.strptime(original.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset_text = clean(offset) if isinstance(offset, str) else ""
    match = re.fullmatch(r"([+-])(\d\d):(\d\d)", offset_text)
    claimed = claimed_at.astimezone(UTC)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        zone = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
        taken = local.replace(tzinfo=zone).astimezone(UTC)
        after = taken > claimed
        margin = "with its recorded offset"
    else:
        # Latest possible UTC reading would be local + 12 h, earliest local - 14 h.
        taken = (local - MAX_UTC_OFFSET).replace(tzinfo=UTC)
        after = taken > claimed
        offset_text = ""
        margin = "even at the easternmost time zone (no offset recorded)"
    if not after:
        return None
    seconds = int((taken - claimed).total_seconds())
    return Finding(
        kind="captured_after_claim",
        claim=claim,
        counts=False,
        statement=(
            f"was taken at {original}{(' ' + offset_text) if offset_text else ''}, "
            f"after the claim was filed, {margin}"
        ),
        basis={
            "date_time_original": original,
            "offset_time_original": offset_text,
            "claimed_at": claimed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds_after_claim_at_least": seconds,
        },
    )
