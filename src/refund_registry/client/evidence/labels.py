"""AI-generation labels: the C2PA manifest, the GB 45438-2025 implicit label, IPTC source type.

What is read, and from where:

* **C2PA** (content credentials): the manifest store embedded in the file, read
  and validated by the ``c2pa-python`` bindings of the C2PA reference library.
  Remote manifests and OCSP are not fetched (the check stays offline). From the
  active manifest: ``claim_generator`` / ``claim_generator_info``, the
  ``c2pa.actions`` assertions (action, ``digitalSourceType``, software agent),
  the signer (``signature_info``) and the validation state (``Trusted``:
  signature valid and the signer chains to a trust anchor the member
  configured; ``Valid``: signature and hashes check out, signer not on a
  configured trust list; ``Invalid``: a check failed, e.g. the image data no
  longer matches its hash), with the failure codes.
* **GB 45438-2025 implicit label** (metadata form): the XMP property ``AIGC``
  in the namespace ``http://www.tc260.org.cn/ns/AIGC/1.0/`` (prefix
  ``TC260``), as the TC260 practice guide writes it for images; its value is a
  JSON object with ``Label``, ``ContentProducer``, ``ProduceID``,
  ``ReservedCode1``, ``ContentPropagator``, ``PropagateID`` and
  ``ReservedCode2`` (some writers wrap it as ``{"AIGC": {...}}``; both are
  read). The same JSON object is also accepted in a PNG text chunk named
  ``AIGC`` and in the EXIF ``ImageDescription``, ``UserComment`` or
  ``XPComment`` fields; the finding names the place it was found.
* **IPTC digital source type** in XMP: ``Iptc4xmpExt:DigitalSourceType``.

A label finding counts towards ``photo_forensics`` when it declares AI
generation: a C2PA manifest whose actions declare trained-algorithmic (or
composite-with-trained-algorithmic, algorithmic, composite-synthetic) media and
that is not ``Invalid``; a GB 45438 ``Label`` of ``"1"`` (generated or
synthesised); an IPTC source type of the same AI values.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from refund_registry.client.evidence.model import Finding

TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP_NS = "http://ns.adobe.com/xap/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
GB_FIELDS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
GB_LABEL_MEANING = {"1": "generated or synthesised", "2": "possibly", "3": "suspected"}
AI_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    }
)
MAX_XMP = 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# EXIF tags that may carry a label written as text.
_EXIF_TEXT_TAGS = {0x010E: "ImageDescription", 0x9286: "UserComment", 0x9C9C: "XPComment"}
_EXIF_IFD = 0x8769


def clean(value: object, limit: int = 200) -> str:
    """A metadata value fit for a report line: text, no control characters, bounded."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def source_type_name(uri: str) -> str:
    """The last part of a source type URI (``…/digitalsourcetype/trainedAlgorithmicMedia``)."""
    return re.split(r"[/:#]", uri.strip())[-1]


@dataclass
class XmpFacts:
    """What the XMP packet says, as found."""

    aigc_payloads: list[str] = field(default_factory=list)
    source_types: list[str] = field(default_factory=list)
    creator_tools: list[str] = field(default_factory=list)
    problem: str = ""


def xmp_packet(image: Image.Image) -> bytes | None:
    """The raw XMP packet Pillow found (JPEG APP1, PNG iTXt, WebP, TIFF), if any."""
    raw = image.info.get("xmp")
    if raw is None and isinstance(image.info.get("XML:com.adobe.xmp"), str):
        raw = image.info["XML:com.adobe.xmp"]
    if isinstance(raw, str):
        return raw.encode("utf-8")
    return raw if isinstance(raw, bytes) else None


def parse_xmp(packet: bytes) -> XmpFacts:
    """Read the properties this module needs from an XMP packet.

    The packet comes from an untrusted file. DTDs and entity declarations are
    refused before parsing and the size is bounded; expat (>= 2.4.1, as
    shipped with supported Pythons) also bounds entity amplification.
    """
    facts = XmpFacts()
    if len(packet) > MAX_XMP:
        facts.problem = "XMP packet larger than 1 MiB, not read"
        return facts
    if re.search(rb"<!(DOCTYPE|ENTITY)", packet, re.IGNORECASE):
        facts.problem = "XMP packet with a DTD, not read"
        return facts
    text = packet.strip(b"\x00 \r\n\t")
    start = text.find(b"<x:xmpmeta")
    if start < 0:
        start = text.find(b"<rdf:RDF")
    end_meta = text.rfind(b"</x:xmpmeta>")
    if start >= 0 and end_meta > start:
        text = text[start : end_meta + len(b"</x:xmpmeta>")]
    elif start >= 0:
        end_rdf = text.rfind(b"</rdf:RDF>")
        text = text[start : end_rdf + len(b"</rdf:RDF>")] if end_rdf > start else text[start:]
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs refused above; expat bounds expansion
    except ET.ParseError as exc:
        facts.problem = f"XMP packet is not well-formed XML ({clean(exc, 80)})"
        return facts
    for element in root.iter():
        if element.tag == f"{{{TC260_NS}}}AIGC":
            facts.aigc_payloads.append("".join(element.itertext()))
        elif element.tag == f"{{{IPTC_EXT_NS}}}DigitalSourceType":
            facts.source_types.append("".join(element.itertext()).strip())
        elif element.tag == f"{{{XMP_NS}}}CreatorTool":
            facts.creator_tools.append("".join(element.itertext()).strip())
        for name, value in element.attrib.items():
            if name == f"{{{TC260_NS}}}AIGC":
                facts.aigc_payloads.append(value)
            elif name == f"{{{IPTC_EXT_NS}}}DigitalSourceType":
                facts.source_types.append(value.strip())
            elif name == f"{{{XMP_NS}}}CreatorTool":
                facts.creator_tools.append(value.strip())
            elif name == f"{{{RDF_NS}}}resource" and element.tag == (
                f"{{{IPTC_EXT_NS}}}DigitalSourceType"
            ):
                facts.source_types.append(value.strip())
    facts.source_types = [s for s in facts.source_types if s]
    facts.creator_tools = [clean(s) for s in facts.creator_tools if s]
    return facts


def gb_fields(payload: str) -> dict[str, str] | None:
    """The GB 45438 label fields of a JSON payload (flat or under ``AIGC``), or None."""
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict) and isinstance(document.get("AIGC"), dict):
        document = document["AIGC"]
    if not isinstance(document, dict) or "Label" not in document:
        return None
    return {name: clean(document[name]) for name in GB_FIELDS if name in document}


def _exif_texts(image: Image.Image) -> Iterator[tuple[str, str]]:
    exif = image.getexif()
    places: list[Mapping[int, Any]] = [exif]
    with contextlib.suppress(KeyError, ValueError, TypeError):
        places.append(exif.get_ifd(_EXIF_IFD))
    for ifd in places:
        for tag, name in _EXIF_TEXT_TAGS.items():
            value = ifd.get(tag)
            if value is None:
                continue
            if isinstance(value, bytes):
                if name == "XPComment":
                    text = value.decode("utf-16-le", "replace").rstrip("\x00")
                else:
                    # UserComment starts with an 8-byte character-code header.
                    head, body = value[:8], value[8:]
                    encoding = "utf-16" if head.startswith(b"UNICODE") else "utf-8"
                    text = body.decode(encoding, "replace").rstrip("\x00")
            else:
                text = str(value)
            yield f"exif:{name}", text


def gb45438_findings(claim: int, image: Image.Image, xmp: XmpFacts) -> list[Finding]:
    """One finding per GB 45438 implicit label found (XMP first, then PNG text, then EXIF)."""
    candidates: list[tuple[str, str]] = [("xmp:TC260:AIGC", p) for p in xmp.aigc_payloads]
    png_text = image.info.get("AIGC")
    if isinstance(png_text, str):
        candidates.append(("png-text:AIGC", png_text))
    candidates.extend((where, text) for where, text in _exif_texts(image) if "Label" in text)
    findings = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for where, payload in candidates:
        fields = gb_fields(payload.strip())
        if fields is None:
            continue
        key = tuple(sorted(fields.items()))
        if key in seen:
            continue
        seen.add(key)
        label = fields.get("Label", "")
        meaning = GB_LABEL_MEANING.get(label, "an unknown value")
        producer = fields.get("ContentProducer", "")
        produce_id = fields.get("ProduceID", "")
        findings.append(
            Finding(
                kind="gb45438_label",
                claim=claim,
                counts=label == "1",
                statement=(
                    f"carries a GB 45438-2025 implicit AI label (Label {label!r}: {meaning}), "
                    f"producer {producer or '(empty)'}, content id {produce_id or '(empty)'}, "
                    f"read from {where}"
                ),
                basis={"source": where, "fields": fields, "label_meaning": meaning},
            )
        )
    return findings


def source_type_findings(claim: int, xmp: XmpFacts) -> list[Finding]:
    """The IPTC digital source types declared in XMP (unsigned metadata)."""
    names = sorted({source_type_name(s) for s in xmp.source_types})
    if not names:
        return []
    ai = sorted(n for n in names if n in AI_SOURCE_TYPES)
    return [
        Finding(
            kind="xmp_digital_source_type",
            claim=claim,
            counts=bool(ai),
            statement=(
                f"its XMP metadata declares the IPTC digital source type {', '.join(names)}"
                + (" (AI-generated media)" if ai else "")
            ),
            basis={
                "source": "xmp:Iptc4xmpExt:DigitalSourceType",
                "values": [clean(s) for s in sorted(set(xmp.source_types))],
                "ai_generated": bool(ai),
            },
        )
    ]


# --- C2PA ---------------------------------------------------------------------


class C2paReader:
    """The C2PA reader, or the reason it is unavailable; one per check."""

    def __init__(self, trust_anchors: str | None = None) -> None:
        self.unavailable = ""
        self.version = ""
        try:
            import c2pa
        except ImportError as exc:  # the wheel exists for the usual platforms only
            self.unavailable = f"c2pa-python is not installed ({clean(exc, 120)})"
            return
        except OSError as exc:  # its native library failed to load
            self.unavailable = f"the C2PA native library did not load ({clean(exc, 120)})"
            return
        self._c2pa = c2pa
        self.version = getattr(c2pa, "__version__", "unknown")
        settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
        if trust_anchors:
            settings["trust"] = {"user_anchors": trust_anchors}
        self._settings = settings

    def read(self, claim: int, data: bytes, image_format: str) -> Finding | None:
        """The finding for one photo's manifest, or None when it carries none."""
        c2pa = self._c2pa
        # Phones often save MPO (a JPEG with a second, depth or preview, image).
        mime = (
            "image/jpeg"
            if image_format.upper() == "MPO"
            else Image.MIME.get(image_format.upper(), "")
        )
        if not mime:
            return None
        try:
            with c2pa.Context.from_dict(self._settings) as context:
                reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, context)
                if reader is None:
                    return None
                with reader:
                    store = json.loads(reader.json())
        except c2pa.C2paError as exc:
            return Finding(
                kind="c2pa_manifest",
                claim=claim,
                counts=False,
                statement="carries C2PA data that cannot be read: treat it as invalid",
                basis={"state": "invalid", "failures": [clean(exc, 160)]},
            )
        return _manifest_finding(claim, store)


def _manifest_finding(claim: int, store: Mapping[str, Any]) -> Finding:
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest", "")) or {}
    state = str(store.get("validation_state") or "Invalid").lower()
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = sorted({clean(f.get("code", "")) for f in results.get("failure") or []})
    generators = []
    if active.get("claim_generator"):
        generators.append(clean(active["claim_generator"]))
    for info in active.get("claim_generator_info") or []:
        name = clean(info.get("name", ""))
        version = clean(info.get("version", ""))
        generators.append(f"{name} {version}".strip())
    actions = []
    for assertion in active.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            agent = action.get("softwareAgent")
            if isinstance(agent, Mapping):
                agent = agent.get("name", "")
            actions.append(
                {
                    "action": clean(action.get("action", "")),
                    "digital_source_type": source_type_name(
                        str(action.get("digitalSourceType", ""))
                    ),
                    "software_agent": clean(agent or ""),
                }
            )
    source_types = sorted({a["digital_source_type"] for a in actions} - {""})
    ai = sorted(set(source_types) & AI_SOURCE_TYPES)
    signer = active.get("signature_info") or {}
    basis = {
        "claim_generator": generators,
        "title": clean(active.get("title", "")),
        "actions": actions,
        "digital_source_types": source_types,
        "ai_generated": bool(ai),
        "signature": {
            "state": state,
            "alg": clean(signer.get("alg", "")),
            "issuer": clean(signer.get("issuer", "")),
            "common_name": clean(signer.get("common_name", "")),
            "failures": failures,
        },
    }
    generator = generators[0] if generators else "(no generator named)"
    if ai:
        what = f"declares AI-generated media ({', '.join(ai)}) made with {generator}"
    else:
        what = f"was made with {generator}; it declares no AI-generated media"
    validity = {
        "trusted": "its signature is valid and the signer is trusted",
        "valid": "its signature is valid (signer not on a configured trust list)",
    }.get(state, "it does NOT validate: " + (", ".join(failures) or "unknown failure"))
    return Finding(
        kind="c2pa_manifest",
        claim=claim,
        counts=bool(ai) and state in ("valid", "trusted"),
        statement=f"carries a C2PA manifest that {what}; {validity}",
        basis=basis,
    )
