"""The access log's Merkle tree (RFC 9162 §2.1).

``tree`` hashes leaves and nodes, names complete subtrees and grows the tree
(:class:`Frontier`); ``proofs`` builds inclusion and consistency proofs from
stored nodes and verifies them as a client would.
"""

from refund_registry.domain.merkle.proofs import (
    ProofPlan,
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    inclusion_root,
    verify_consistency,
    verify_inclusion,
)
from refund_registry.domain.merkle.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    MAX_SIZE,
    Appended,
    Frontier,
    NodeID,
    ProofError,
    StoredNode,
    compact_range,
    fold_right,
    leaf_hash,
    node_hash,
    root_at,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_SIZE",
    "Appended",
    "Frontier",
    "NodeID",
    "ProofError",
    "ProofPlan",
    "StoredNode",
    "compact_range",
    "consistency_plan",
    "consistency_proof",
    "fold_right",
    "inclusion_plan",
    "inclusion_proof",
    "inclusion_root",
    "leaf_hash",
    "node_hash",
    "root_at",
    "verify_consistency",
    "verify_inclusion",
]
