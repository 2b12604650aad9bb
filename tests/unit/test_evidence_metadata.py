"""AI-generation labels, capture metadata and the bundle digest of the evidence check.

The C2PA files are signed here with a throwaway ES256 chain (a CA and a leaf
with the extensions C2PA asks of a signing certificate), by the same
``c2pa-python`` bindings the check reads them with. No network is used:
no timestamp authority, no OCSP, no remote manifest.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import ExifTags, Image, PngImagePlugin

from refund_registry.client import evidence
from refund_registry.client.evidence import labels

AI_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GB_LABEL = {
    "Label": "1",
    "ContentProducer": "001191100000000000000000X00001",
    "ProduceID": "gen-20261107-0001",
    "ReservedCode1": "",
    "ContentPropagator": "001191100000000000000000X00001",
    "PropagateID": "gen-20261107-0001",
    "ReservedCode2": "",
}


def photo(seed: int = 1, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A small noisy picture: enough for metadata, too small to matter for alignment."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def save(image: Image.Image, fmt: str = "JPEG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def kinds(report: evidence.EvidenceReport) -> list[str]:
    return [f.kind for f in report.findings]


# --- C2PA ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    ca_pem: str
    chain_pem: bytes
    key_pem: bytes


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Throwaway Test Generator Inc"),
        ]
    )


def _usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="module")
def chain() -> Chain:
    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )

    def builder(subject: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name("Throwaway Test CA"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )

    ca = (
        builder("Throwaway Test CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign=False, ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        builder("Throwaway AI Image Generator", leaf_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return Chain(
        ca_pem=ca.public_bytes(pem).decode(),
        chain_pem=leaf.public_bytes(pem) + ca.public_bytes(pem),
        key_pem=leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def sign(chain: Chain, source: bytes, source_type: str = AI_SOURCE) -> bytes:
    manifest = {
        "claim_generator_info": [{"name": "Throwaway Diffusion", "version": "2.1"}],
        "title": "generated.jpg",
        "format": "image/jpeg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source_type}]},
            }
        ],
    }
    info = c2pa.C2paSignerInfo(
        alg=b"es256", sign_cert=chain.chain_pem, private_key=chain.key_pem, ta_url=None
    )
    dest = io.BytesIO()
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(source), dest)
    return dest.getvalue()


@pytest.fixture(scope="module")
def signed(chain: Chain) -> bytes:
    return sign(chain, save(photo(2, (160, 120)), quality=90))


def test_a_signed_ai_manifest_is_reported_with_its_generator(signed: bytes) -> None:
    report = evidence.check([("generated.jpg", signed)])
    [manifest] = [f for f in report.findings if f.kind == "c2pa_manifest"]
    assert manifest.counts
    assert manifest.basis["claim_generator"] == ["Throwaway Diffusion 2.1"]
    assert manifest.basis["digital_source_types"] == ["trainedAlgorithmicMedia"]
    assert manifest.basis["actions"][0]["action"] == "c2pa.created"
    signature = manifest.basis["signature"]
    assert signature["state"] == "valid"  # no trust anchor given: valid, not trusted
    assert signature["failures"] == ["signingCredential.untrusted"]
    assert signature["common_name"] == "Throwaway AI Image Generator"
    assert "Throwaway Diffusion 2.1" in manifest.statement
    assert report.evidence_kinds == ("photo_forensics",)


def test_a_signer_chaining_to_a_given_anchor_is_trusted(signed: bytes, chain: Chain) -> None:
    report = evidence.check([signed], trust_anchors=chain.ca_pem)
    [manifest] = [f for f in report.findings if f.kind == "c2pa_manifest"]
    assert manifest.basis["signature"]["state"] == "trusted"
    assert manifest.basis["signature"]["failures"] == []


def test_a_tampered_copy_is_reported_invalid(signed: bytes) -> None:
    image_end = signed.rfind(b"\xff\xd9")
    tampered = bytearray(signed)
    for offset in range(image_end - 120, image_end - 100):  # inside the entropy-coded data
        tampered[offset] ^= 0x5A
    report = evidence.check([bytes(tampered)])
    [manifest] = [f for f in report.findings if f.kind == "c2pa_manifest"]
    assert manifest.basis["signature"]["state"] == "invalid"
    assert "assertion.dataHash.mismatch" in manifest.basis["signature"]["failures"]
    assert not manifest.counts
    assert "does NOT validate" in manifest.statement
    assert report.evidence_kinds == ()


def test_a_camera_manifest_is_reported_but_does_not_count(chain: Chain) -> None:
    capture = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
    report = evidence.check([sign(chain, save(photo(3)), capture)])
    [manifest] = [f for f in report.findings if f.kind == "c2pa_manifest"]
    assert not manifest.counts
    assert manifest.basis["ai_generated"] is False
    assert "declares no AI-generated media" in manifest.statement


def test_without_the_c2pa_bindings_the_check_says_so(
    signed: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_c2pa(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "c2pa":
            raise ImportError("No module named 'c2pa'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_c2pa)
    report = evidence.check([signed])
    assert kinds(report)[0] == "c2pa_unavailable"
    assert report.findings[0].claim == -1
    assert "c2pa_manifest" not in kinds(report)
    assert report.tool["c2pa-python"] == "unavailable"
    assert report.evidence_kinds == ()


# --- GB 45438 and XMP -----------------------------------------------------------


def xmp_packet(body: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/">{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def escaped(value: object) -> str:
    return json.dumps(value, ensure_ascii=False).replace("&", "&amp;").replace('"', "&quot;")


def test_a_gb45438_label_in_xmp_is_reported() -> None:
    packet = xmp_packet(f"<TC260:AIGC>{escaped(GB_LABEL)}</TC260:AIGC>")
    report = evidence.check([save(photo(), xmp=packet)])
    [label] = [f for f in report.findings if f.kind == "gb45438_label"]
    assert label.counts
    assert label.basis["source"] == "xmp:TC260:AIGC"
    assert label.basis["fields"] == GB_LABEL
    assert "001191100000000000000000X00001" in label.statement
    assert "gen-20261107-0001" in label.statement
    assert report.evidence_kinds == ("photo_forensics",)


def test_a_wrapped_gb45438_label_in_a_png_and_the_possibly_value() -> None:
    info = PngImagePlugin.PngInfo()
    possibly = {**GB_LABEL, "Label": "2"}
    info.add_itxt(
        "XML:com.adobe.xmp",
        xmp_packet(f"<TC260:AIGC>{escaped({'AIGC': possibly})}</TC260:AIGC>").decode(),
    )
    report = evidence.check([save(photo(), "PNG", pnginfo=info)])
    [label] = [f for f in report.findings if f.kind == "gb45438_label"]
    assert label.basis["fields"]["Label"] == "2"
    assert label.basis["label_meaning"] == "possibly"
    assert not label.counts
    assert report.evidence_kinds == ()


def test_a_gb45438_label_in_a_png_text_chunk_is_read() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", json.dumps(GB_LABEL))
    report = evidence.check([save(photo(), "PNG", pnginfo=info)])
    [label] = [f for f in report.findings if f.kind == "gb45438_label"]
    assert label.basis["source"] == "png-text:AIGC"
    assert label.counts


def test_a_gb45438_label_in_an_exif_user_comment_is_read() -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = (
        b"ASCII\x00\x00\x00" + json.dumps(GB_LABEL).encode()
    )
    report = evidence.check([save(photo(), exif=exif.tobytes())])
    [label] = [f for f in report.findings if f.kind == "gb45438_label"]
    assert label.basis["source"] == "exif:UserComment"
    assert label.basis["fields"]["ProduceID"] == "gen-20261107-0001"


def test_an_iptc_ai_source_type_in_xmp_is_reported() -> None:
    packet = xmp_packet(
        f"<Iptc4xmpExt:DigitalSourceType>{AI_SOURCE}</Iptc4xmpExt:DigitalSourceType>"
    )
    report = evidence.check([save(photo(), xmp=packet)])
    [declared] = [f for f in report.findings if f.kind == "xmp_digital_source_type"]
    assert declared.counts
    assert declared.basis["values"] == [AI_SOURCE]


@pytest.mark.parametrize(
    "packet",
    [
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>',
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><unclosed></x:xmpmeta>",
        b"\x00\x01 not xml at all",
    ],
)
def test_a_hostile_or_broken_xmp_packet_is_not_read(packet: bytes) -> None:
    facts = labels.parse_xmp(packet)
    assert facts.aigc_payloads == []
    assert facts.problem


# --- capture metadata -------------------------------------------------------------


def camera_jpeg(software: str | None = None, taken: str = "2026:11:05 10:00:00") -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.Base.Model] = "EOS R6"
    if software:
        exif[ExifTags.Base.Software] = software
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = taken
    sub[ExifTags.Base.OffsetTimeOriginal] = "+08:00"
    return save(photo(4), exif=exif.tobytes())


CLAIMED_AT = dt.datetime(2026, 11, 8, 10, 0, tzinfo=dt.UTC)


def test_a_clean_camera_file_yields_no_finding() -> None:
    report = evidence.check([("IMG_0001.JPG", camera_jpeg())], claimed_at=CLAIMED_AT)
    assert report.findings == ()
    assert report.evidence_kinds == ()


def test_a_stripped_file_has_no_camera_data() -> None:
    report = evidence.check([save(photo())])
    assert kinds(report) == ["no_camera_data"]
    assert not report.findings[0].counts


def test_editing_and_generation_tools_in_tags_are_named() -> None:
    report = evidence.check([camera_jpeg(software="Adobe Photoshop 26.1 (Windows)")])
    [tool] = report.findings
    assert (tool.kind, tool.basis["tool_class"]) == ("editing_software", "editing")
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cracked phone screen, photorealistic, Steps: 30")
    report = evidence.check([save(photo(), "PNG", pnginfo=info)])
    [tool] = [f for f in report.findings if f.kind == "editing_software"]
    assert tool.basis["source"] == "png-text:parameters"
    assert tool.basis["tool_class"] == "generation"
    assert not tool.counts
    # A phone's own software tag names no editing tool.
    assert evidence.check([camera_jpeg(software="iOS 18.1")]).findings == ()


def test_a_photo_taken_after_the_claim_was_filed_is_noted() -> None:
    report = evidence.check([camera_jpeg(taken="2026:11:09 09:30:00")], claimed_at=CLAIMED_AT)
    [late] = report.findings
    assert late.kind == "captured_after_claim"
    assert late.basis["seconds_after_claim_at_least"] == 15 * 3600 + 1800  # 01:30Z on the 9th
    assert not late.counts
    # Taken before the claim: nothing to say.
    assert evidence.check([camera_jpeg()], claimed_at=CLAIMED_AT).findings == ()


def test_unreadable_photos_are_findings_not_exceptions() -> None:
    report = evidence.check([b"not an image"], [b"nor this"])
    assert sorted(kinds(report)) == ["unreadable_photo", "unreadable_photo"]
    with pytest.raises(ValueError, match="aware"):
        evidence.check([b"x"], claimed_at=dt.datetime(2026, 11, 8))


# --- the bundle digest --------------------------------------------------------------


def test_the_bundle_digest_is_the_documented_manifest_hash() -> None:
    findings = b'{"format":"rr-evidence-findings/1"}'
    files = {"photos/claim 1.jpg": hashlib.sha256(b"claim").digest(), "chat.txt": "ab" * 32}
    manifest = evidence.bundle_manifest(files, findings)
    expected = (
        "rr-evidence-bundle/1\n"
        f"{'ab' * 32}  chat.txt\n"
        f"{hashlib.sha256(findings).hexdigest()}  findings.json\n"
        f"{hashlib.sha256(b'claim').hexdigest()}  photos/claim 1.jpg\n"
    ).encode()
    assert manifest == expected
    digest = evidence.bundle_digest(files, findings)
    import base64

    raw = base64.urlsafe_b64decode(digest + "=")
    assert raw == hashlib.sha256(expected).digest()
    assert len(digest) == 43


def test_the_documented_shell_pipeline_gives_the_same_digest(tmp_path: Path) -> None:
    """An adjudicator with coreutils alone gets the same digest, with the command the docs give."""
    folder = Path(__file__).resolve().parents[2] / "docs"
    docs = [(folder / name).read_text() for name in ("evidence.md", "evidence.zh-CN.md")]
    pattern = r"```\n(\{ printf 'rr-evidence-bundle/1.*?)\n```"
    blocks = [b for text in docs for b in re.findall(pattern, text, re.DOTALL)]
    assert len(blocks) == 2
    assert blocks[0] == blocks[1]  # the same command in both languages
    (tmp_path / "claim 1.jpg").write_bytes(b"claim bytes")
    (tmp_path / "chat.txt").write_bytes("聊天记录".encode())
    findings = b'{"format":"rr-evidence-findings/1"}'
    (tmp_path / "findings.json").write_bytes(findings)
    done = subprocess.run(
        ["sh", "-c", blocks[0]], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    files = {p.name: hashlib.sha256(p.read_bytes()).digest() for p in tmp_path.iterdir()}
    del files["findings.json"]
    assert done.stdout.strip() == evidence.bundle_digest(files, findings)


@pytest.mark.parametrize(
    "name", ["", "/etc/passwd", "a/../b", "a\\b", "line\nbreak", "findings.json", "./a"]
)
def test_bad_file_names_are_refused(name: str) -> None:
    with pytest.raises(evidence.BundleError):
        evidence.bundle_digest({name: "00" * 32}, b"{}")


def test_bad_digests_and_floats_are_refused() -> None:
    with pytest.raises(evidence.BundleError):
        evidence.bundle_digest({"a.jpg": "AB" * 32}, b"{}")
    with pytest.raises(evidence.BundleError):
        evidence.bundle_digest({"a.jpg": b"short"}, b"{}")
    with pytest.raises(evidence.BundleError, match="floats"):
        evidence.canonical_json({"share": 0.5})


def test_the_report_digest_covers_the_findings(signed: bytes) -> None:
    report = evidence.check([("generated.jpg", signed)])
    files = {"generated.jpg": hashlib.sha256(signed).hexdigest()}
    assert evidence.bundle_digest(files, report) == evidence.bundle_digest(
        files, report.canonical_json()
    )
    assert report.photos[0].sha256 == files["generated.jpg"]
    assert sys.modules["refund_registry.client.evidence"] is evidence
