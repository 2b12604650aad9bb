"""The registry's version-2 receipt code against ``docs/vectors/receipt-v2.json``.

The file is computed by ``tests/support/vectors.py`` from RFC 9162's recursive
definitions and ``cryptography`` directly; here the server's writer, the pure
domain code and the SDK's check must reproduce or accept it byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.client import check_receipt_signature
from refund_registry.domain.access import AccessRecord, decode, encode
from refund_registry.domain.checkpoint import (
    CheckpointError,
    batch_message,
    receipt_leaf,
    receipt_leaf_hash,
    sign_batch,
    verify_batch_receipt,
)
from refund_registry.domain.wire import b64url_decode
from refund_registry.storage.accesslog import batch_receipts

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "vectors"
V2: dict[str, Any] = json.loads((VECTORS / "receipt-v2.json").read_text(encoding="utf-8"))
V1: dict[str, Any] = json.loads((VECTORS / "receipt.json").read_text(encoding="utf-8"))


def _b64d(text: str) -> bytes:
    raw = b64url_decode(text)
    assert raw is not None
    return raw


def _key() -> ed25519.Ed25519PrivateKey:
    seed = bytes.fromhex(V2["log_key"]["private_key_seed_hex"])
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def _record(fields: dict[str, Any]) -> AccessRecord:
    at = datetime.fromtimestamp(fields["at"] // 1_000_000, tz=UTC).replace(
        microsecond=fields["at"] % 1_000_000
    )
    return AccessRecord(
        at=at,
        actor=fields["actor"],
        role=fields["role"],
        action=fields["action"],
        request_digest=fields["request"],
        subject_keys=[_b64d(V1["entry"]["subject_key_b64url"])],
        purpose=fields.get("purpose"),
        outcome=fields.get("outcome"),
        query_id=fields.get("query_id"),
    )


def test_the_writer_reproduces_the_receipts_of_one_flush() -> None:
    assert V2["log_key"] == V1["log_key"]  # the same log key signs both versions
    salt = _b64d(V1["entry"]["salt_b64url"])
    encoded = []
    for text in V2["entries_b64url"]:
        entry = _b64d(text)
        made = encode(_record(decode(entry)), salts=[salt])
        assert made.entry == entry
        encoded.append(made)
    assert [e.leaf_hash.hex() for e in encoded] == V2["leaf_hashes_hex"]
    assert [e.at_micros for e in encoded] == V2["logged_at_micros"]
    assert batch_receipts(encoded, _key()) == V2["receipts"]


def test_the_domain_code_reproduces_every_byte() -> None:
    leaves = [bytes.fromhex(h) for h in V2["leaf_hashes_hex"]]
    times = V2["logged_at_micros"]
    assert [receipt_leaf(h, t).hex() for h, t in zip(leaves, times, strict=True)] == V2[
        "receipt_leaves_hex"
    ]
    assert [receipt_leaf_hash(h, t).hex() for h, t in zip(leaves, times, strict=True)] == V2[
        "receipt_leaf_hashes_hex"
    ]
    root = bytes.fromhex(V2["root_hash_hex"])
    message = batch_message(V2["tree_size"], root)
    assert message.hex() == V2["signed_message_hex"]
    assert len(message) == 67
    made = sign_batch(list(zip(leaves, times, strict=True)), _key())
    assert {m.signature.hex() for m in made} == {V2["signature_hex"]}
    public = _key().public_key()
    for m, receipt in zip(made, V2["receipts"], strict=True):
        assert [_b64d(p) for p in receipt["path"]] == list(m.path)
        assert verify_batch_receipt(
            leaves[m.index], times[m.index], m.index, m.size, m.path, m.signature, public
        )


@pytest.mark.parametrize("index", range(5))
def test_the_sdk_accepts_every_receipt(index: int) -> None:
    receipt = V2["receipts"][index]
    assert (
        check_receipt_signature(receipt, V2["log_key"]["verifier_key"]).hex()
        == (V2["leaf_hashes_hex"][index])
    )


@pytest.mark.parametrize("case", V2["invalid"], ids=[c["why"] for c in V2["invalid"]])
def test_the_sdk_refuses_every_invalid_receipt(case: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError):
        check_receipt_signature(case["receipt"], V2["log_key"]["verifier_key"])
