"""Receipts on the member's side: ask for version 2, and check either version's signature.

The SDK sends ``Registry-Receipt-Version: 2`` with every request
(:data:`ASK_FOR_V2`). Risk queries then answer version-2 receipts, whose one
signature per group commit covers the root of a Merkle tree of receipts; every
other answer keeps version 1, one signature per receipt (``docs/contract.md``,
section 6). :func:`check_receipt_signature` verifies both, so a receipt is
checked the same way whichever version the registry chose.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from refund_registry.client.results import Receipt
from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import (
    CheckpointError,
    parse_verifier_key,
    verify_batch_receipt,
    verify_receipt,
)
from refund_registry.domain.wire import b64url_decode

RECEIPT_VERSION_HEADER: Final = "Registry-Receipt-Version"
ASK_FOR_V2: Final = {RECEIPT_VERSION_HEADER: "2"}
"""The request header that asks for version-2 receipts where the route gives them."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def logged_at_micros(logged_at: str) -> int:
    """A receipt's ``logged_at`` as integer microseconds since the epoch (no float on the way)."""
    try:
        moment = datetime.fromisoformat(logged_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CheckpointError("the receipt's logged_at is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise CheckpointError("the receipt's logged_at has no UTC offset")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def as_receipt(receipt: Receipt | Mapping[str, Any]) -> Receipt:
    """A :class:`Receipt` from a result's receipt or the raw JSON object (either version)."""
    if isinstance(receipt, Receipt):
        return receipt
    try:
        base = (str(receipt["leaf_hash"]), str(receipt["logged_at"]), str(receipt["signature"]))
    except KeyError as exc:
        raise CheckpointError(f"the receipt has no {exc.args[0]}") from exc
    version = receipt.get("v", 1)
    if version == 1 and type(version) is int:
        return Receipt(*base)
    index, size, path = receipt.get("index"), receipt.get("tree_size"), receipt.get("path")
    if (
        version != 2
        or not isinstance(index, int)
        or not isinstance(size, int)
        or not isinstance(path, list)
        or not all(isinstance(p, str) for p in path)
    ):
        raise CheckpointError("the receipt is of no version this SDK knows (1 or 2)")
    return Receipt(*base, v=2, index=index, tree_size=size, path=tuple(path))


def _public_key(verifier_key: str | Ed25519PublicKey) -> Ed25519PublicKey:
    if isinstance(verifier_key, Ed25519PublicKey):
        return verifier_key
    return parse_verifier_key(verifier_key).public_key


def check_receipt_signature(
    receipt: Receipt | Mapping[str, Any], verifier_key: str | Ed25519PublicKey
) -> bytes:
    """Check a receipt of either version against the log key; return its leaf hash.

    ``verifier_key`` is the log's checkpoint verifier key, pinned out of band
    (or its Ed25519 public key). Raises
    :class:`~refund_registry.domain.checkpoint.CheckpointError` saying what failed.
    """
    given = as_receipt(receipt)
    leaf_hash = b64url_decode(given.leaf_hash)
    signature = b64url_decode(given.signature)
    if leaf_hash is None or signature is None or len(leaf_hash) != merkle.HASH_SIZE:
        raise CheckpointError("the receipt's leaf_hash or signature is malformed")
    at = logged_at_micros(given.logged_at)
    public_key = _public_key(verifier_key)
    if given.v == 1:
        if not verify_receipt(leaf_hash, at, signature, public_key):
            raise CheckpointError("the receipt's signature is not the log key's")
        return leaf_hash
    path = [b64url_decode(p) for p in given.path]
    hashes = [p for p in path if p is not None]
    if len(hashes) != len(path) or given.index is None or given.tree_size is None:
        raise CheckpointError("the receipt's path is malformed")
    if not verify_batch_receipt(
        leaf_hash, at, given.index, given.tree_size, hashes, signature, public_key
    ):
        raise CheckpointError(
            "the receipt's path and signature do not verify: it is not the log key's"
        )
    return leaf_hash
