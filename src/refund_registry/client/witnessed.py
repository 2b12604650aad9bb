"""Checks against *witnessed* checkpoints: a quorum of cosignatures, and receipts in them.

A checkpoint signed by the log proves what the registry committed to; with
``quorum`` valid cosignatures from witnesses you trust (c2sp.org/tlog-cosignature)
it also proves that those witnesses saw the same, consistent, history, so the
registry cannot be showing you a fork (``docs/audit.md``, witnesses).

Everything here is pure: the caller fetches the note and the proof
(:meth:`RegistryClient.audit_receipt <refund_registry.client.RegistryClient.audit_receipt>`
does) and these functions say whether they hold, raising
:class:`~refund_registry.domain.checkpoint.CheckpointError` with a plain reason
when they do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from refund_registry.client.calls import CallCore, Plan
from refund_registry.client.results import Receipt
from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_and_verify,
    parse_verifier_key,
    verify_receipt,
)
from refund_registry.domain.checkpoint.cosignature import (
    Cosignature,
    check_quorum,
    parse_cosigner_key,
)
from refund_registry.domain.wire import b64url_decode

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A checkpoint whose log signature and ``quorum`` cosignatures verified."""

    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]

    def describe(self) -> str:
        names = ", ".join(c.name for c in self.cosignatures) or "none asked for"
        return f"cosigned by {len(self.cosignatures)} trusted witness(es): {names}"


@dataclass(frozen=True, slots=True)
class ReceiptAudit:
    """A receipt whose entry is proven included in a witnessed checkpoint."""

    leaf_index: int
    witnessed: Witnessed


def check_witnessed(
    note: str, verifier_key: str, witnesses: Sequence[str], quorum: int
) -> Witnessed:
    """Verify the log's signature and at least ``quorum`` cosignatures by ``witnesses``.

    ``witnesses`` are witness verifier keys (``name+keyid+base64(0x04 ‖ key)``).
    Cosignatures by keys not listed do not count, whatever the registry says.
    """
    try:
        keys = [parse_cosigner_key(text) for text in witnesses]
    except CheckpointError as exc:
        raise CheckpointError(f"a witness key is unusable: {exc.detail}") from exc
    checkpoint = parse_and_verify(note, verifier_key)
    found = check_quorum(note, keys, quorum) if quorum else []
    return Witnessed(checkpoint, tuple(found))


def _micros(logged_at: str) -> int:
    try:
        moment = datetime.fromisoformat(logged_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CheckpointError("the receipt's logged_at is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise CheckpointError("the receipt's logged_at has no UTC offset")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def as_receipt(receipt: Receipt | Mapping[str, Any]) -> Receipt:
    """A :class:`Receipt` from a result's receipt or the raw JSON object."""
    if isinstance(receipt, Receipt):
        return receipt
    try:
        return Receipt(
            str(receipt["leaf_hash"]), str(receipt["logged_at"]), str(receipt["signature"])
        )
    except KeyError as exc:
        raise CheckpointError(f"the receipt has no {exc.args[0]}") from exc


def check_receipt(
    receipt: Receipt | Mapping[str, Any],
    witnessed: Witnessed,
    proof: Mapping[str, Any],
    verifier_key: str,
) -> ReceiptAudit:
    """The receipt is the log's, and ``proof`` puts its entry in the witnessed checkpoint."""
    given = as_receipt(receipt)
    leaf_hash = b64url_decode(given.leaf_hash)
    signature = b64url_decode(given.signature)
    if leaf_hash is None or signature is None or len(leaf_hash) != merkle.HASH_SIZE:
        raise CheckpointError("the receipt's leaf_hash or signature is malformed")
    public_key = parse_verifier_key(verifier_key).public_key
    if not verify_receipt(leaf_hash, _micros(given.logged_at), signature, public_key):
        raise CheckpointError("the receipt's signature is not the log key's")
    checkpoint = witnessed.checkpoint
    index, size, hashes = proof.get("leaf_index"), proof.get("tree_size"), proof.get("hashes")
    if not isinstance(index, int) or size != checkpoint.size or not isinstance(hashes, list):
        raise CheckpointError("the inclusion proof is malformed or for another tree size")
    decoded = [b64url_decode(h) if isinstance(h, str) else None for h in hashes]
    path = [h for h in decoded if h is not None and len(h) == merkle.HASH_SIZE]
    if len(path) != len(decoded) or not 0 <= index < checkpoint.size:
        raise CheckpointError("the inclusion proof is malformed")
    if not merkle.verify_inclusion(leaf_hash, index, checkpoint.size, path, checkpoint.root):
        raise CheckpointError(
            f"the entry is NOT in the witnessed checkpoint of size {checkpoint.size}: "
            "the inclusion proof does not verify"
        )
    return ReceiptAudit(index, witnessed)


def audit_receipt_plan(
    core: CallCore,
    receipt: Receipt | Mapping[str, Any],
    verifier_key: str,
    witnesses: Sequence[str],
    quorum: int,
) -> Plan[ReceiptAudit]:
    """Fetch the latest checkpoint with ``quorum`` cosignatures and the receipt's proof in it."""
    given = as_receipt(receipt)
    params = {"witnessed": quorum} if quorum else None
    note = yield from core._request_plan("GET", "/v1/audit/checkpoint", None, params)
    if not isinstance(note, str):
        raise CheckpointError("the registry did not answer a checkpoint note")
    witnessed = check_witnessed(note, verifier_key, witnesses, quorum)
    proof = yield from core._request_plan(
        "GET",
        "/v1/audit/proof/inclusion",
        None,
        {"leaf_hash": given.leaf_hash, "tree_size": witnessed.checkpoint.size},
    )
    if not isinstance(proof, Mapping):
        raise CheckpointError("the registry did not answer an inclusion proof")
    return check_receipt(given, witnessed, proof, verifier_key)
