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
from typing import Any

from refund_registry.client.calls import CallCore, Plan
from refund_registry.client.receipts import as_receipt, check_receipt_signature
from refund_registry.client.results import Receipt
from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    parse_and_verify,
)
from refund_registry.domain.checkpoint.cosignature import (
    Cosignature,
    check_quorum,
    parse_cosigner_key,
)
from refund_registry.domain.wire import b64url_decode


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


def check_receipt(
    receipt: Receipt | Mapping[str, Any],
    witnessed: Witnessed,
    proof: Mapping[str, Any],
    verifier_key: str,
) -> ReceiptAudit:
    """The receipt is the log's, and ``proof`` puts its entry in the witnessed checkpoint.

    Either receipt version: a version-2 receipt's path leads to its group
    commit's signed root, and its ``leaf_hash`` is redeemed like version 1's.
    """
    leaf_hash = check_receipt_signature(receipt, verifier_key)
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
    """Fetch the latest checkpoint with ``quorum`` cosignatures and the receipt's proof in it.

    The receipt's own signature (either version) is checked first, before any request.
    """
    given = as_receipt(receipt)
    check_receipt_signature(given, verifier_key)
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
