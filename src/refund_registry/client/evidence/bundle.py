"""The canonical findings document and the evidence-bundle digest.

An adjudicator must be able to recompute ``evidence_digest`` from the files the
member shows, with nothing but a SHA-256 tool. So the digest is taken over a
plain text manifest, one line per file, in the layout of ``sha256sum``:

    rr-evidence-bundle/1\\n
    <64 lower-case hex digits of the file's SHA-256><two spaces><name>\\n   (one per file)

Lines are sorted by the UTF-8 bytes of the name. The findings document is one
of the files, under the name ``findings.json``. ``evidence_digest`` is the
SHA-256 of the manifest's UTF-8 bytes, as unpadded base64url (43 characters).

Names are relative paths with ``/`` between folders; they may not be empty,
start with ``/``, contain ``..`` components, a backslash, a control character
(newline above all), or be ``findings.json`` (that name is the findings').
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from refund_registry.domain.wire import b64url

if TYPE_CHECKING:
    from refund_registry.client.evidence.model import EvidenceReport

BUNDLE_FORMAT = "rr-evidence-bundle/1"
FINDINGS_FILE = "findings.json"
_HEX = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BundleError(ValueError):
    """A file name or digest that cannot go into the bundle manifest."""


def canonical_json(document: Any) -> bytes:
    """The one spelling of ``document``: sorted keys, no whitespace, UTF-8, no floats.

    Floats are refused rather than rounded here, because their text differs
    between languages and versions; callers give integers (basis points,
    pixels) instead. No trailing newline.
    """
    _refuse_floats(document, "$")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _refuse_floats(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise BundleError(f"{where}: floats have no canonical spelling; use an integer")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BundleError(f"{where}: object keys must be strings")
            _refuse_floats(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_floats(item, f"{where}[{index}]")


def _hex_digest(name: str, digest: bytes | str) -> str:
    if isinstance(digest, bytes):
        if len(digest) != 32:
            raise BundleError(f"{name}: a SHA-256 digest is 32 bytes, not {len(digest)}")
        return digest.hex()
    if not _HEX.fullmatch(digest):
        raise BundleError(f"{name}: a SHA-256 digest is 64 lower-case hex digits")
    return digest


def _check_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or _CONTROL.search(name)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise BundleError(f"bad file name in the bundle: {name!r}")
    if name == FINDINGS_FILE:
        raise BundleError(f"{FINDINGS_FILE} is the findings document's name; rename that file")


def bundle_manifest(
    files_digests: Mapping[str, bytes | str], findings: EvidenceReport | bytes
) -> bytes:
    """The manifest text whose SHA-256 is the evidence digest (see the module docstring).

    ``files_digests`` maps each evidence file's name to its SHA-256 (32 raw
    bytes or 64 hex digits). ``findings`` is the report or its canonical JSON
    bytes exactly as saved in ``findings.json``.
    """
    raw = findings if isinstance(findings, bytes) else findings.canonical_json()
    entries: dict[str, str] = {}
    for name, digest in files_digests.items():
        _check_name(name)
        entries[name] = _hex_digest(name, digest)
    entries[FINDINGS_FILE] = hashlib.sha256(raw).hexdigest()
    lines = [BUNDLE_FORMAT]
    for name in sorted(entries, key=lambda n: n.encode("utf-8")):
        lines.append(f"{entries[name]}  {name}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def bundle_digest(
    files_digests: Mapping[str, bytes | str], findings: EvidenceReport | bytes
) -> str:
    """``evidence_digest`` for a bundle of files plus the findings: unpadded base64url SHA-256."""
    return b64url(hashlib.sha256(bundle_manifest(files_digests, findings)).digest())
