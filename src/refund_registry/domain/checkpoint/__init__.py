"""Checkpoints of the access log as C2SP signed notes, and signed receipts.

``format`` holds the checkpoint body, key id, verifier key and receipt message
formats and their strict parsers; ``signing`` signs and verifies notes,
checkpoints and receipts; ``batch`` makes and checks version-2 receipts, one
signature per flush over a Merkle tree of the flush's receipts.
"""

from refund_registry.domain.checkpoint.batch import (
    RECEIPT_V2_CONTEXT,
    RECEIPT_V2_LEAF_CONTEXT,
    BatchReceipt,
    SignedTree,
    batch_message,
    level_path,
    receipt_leaf,
    receipt_leaf_hash,
    sign_batch,
    sign_tree,
    verify_batch_receipt,
)
from refund_registry.domain.checkpoint.format import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    RECEIPT_CONTEXT,
    SIGNATURE_TYPE_ED25519,
    Checkpoint,
    CheckpointError,
    VerifierKey,
    checkpoint_body,
    key_id,
    parse_checkpoint_body,
    parse_verifier_key,
    receipt_message,
    verifier_key_string,
)
from refund_registry.domain.checkpoint.signing import (
    open_note,
    parse_and_verify,
    sign_checkpoint,
    sign_note,
    sign_receipt,
    verify_receipt,
)

__all__ = [
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "RECEIPT_CONTEXT",
    "RECEIPT_V2_CONTEXT",
    "RECEIPT_V2_LEAF_CONTEXT",
    "SIGNATURE_TYPE_ED25519",
    "BatchReceipt",
    "Checkpoint",
    "CheckpointError",
    "SignedTree",
    "VerifierKey",
    "batch_message",
    "checkpoint_body",
    "key_id",
    "level_path",
    "open_note",
    "parse_and_verify",
    "parse_checkpoint_body",
    "parse_verifier_key",
    "receipt_leaf",
    "receipt_leaf_hash",
    "receipt_message",
    "sign_batch",
    "sign_checkpoint",
    "sign_note",
    "sign_receipt",
    "sign_tree",
    "verifier_key_string",
    "verify_batch_receipt",
    "verify_receipt",
]
