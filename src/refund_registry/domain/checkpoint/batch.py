"""Version-2 receipts: one signature per group-commit flush over a Merkle tree of receipts.

A version-1 receipt is one Ed25519 signature per logged entry. A version-2
receipt shares one signature among every entry written by the same flush of
the access log, the way Merkle tree certificates share one signature among a
batch of certificates:

* each entry becomes a **receipt leaf**, the 72 bytes
  :data:`RECEIPT_V2_LEAF_CONTEXT` ‖ access-log leaf hash (32) ‖ ``logged_at``
  (microseconds since the Unix epoch, uint64 big-endian);
* the flush's receipt leaves, in flush order, form an RFC 9162 Merkle tree
  (leaf ``SHA-256(0x00 ‖ receipt leaf)``, node ``SHA-256(0x01 ‖ left ‖ right)``,
  hashed by :mod:`refund_registry.domain.merkle`, whose verifier checks the paths);
* the log key signs the 67 bytes :data:`RECEIPT_V2_CONTEXT` ‖ tree size
  (uint64 big-endian) ‖ root hash (32), once per flush;
* each entry's receipt carries its index, the tree size, its inclusion path
  and the shared signature.

Domain separation: a receipt leaf starts with ``refund-registry``, an
access-log entry with ``{`` (it is a JSON object), so no receipt leaf hash is
an access-log leaf hash; the signed message starts with a context line other
than version 1's; and like version 1's it is 67 bytes, 40 after its first line,
too short to be a checkpoint body (which needs at least 47 more bytes after its
first line). One log key can therefore sign checkpoints and both kinds of
receipt. Everything here is pure: keys are passed in, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint.format import CheckpointError
from refund_registry.domain.checkpoint.signing import ed25519_sign

RECEIPT_V2_CONTEXT = b"refund-registry receipt v2\n"
"""The first line of the message a version-2 receipt's signature covers (27 bytes)."""

RECEIPT_V2_LEAF_CONTEXT = b"refund-registry receipt v2 leaf\n"
"""The first line of every receipt leaf (32 bytes)."""

T = TypeVar("T")

MAX_PATH = 64
"""An inclusion path in a tree of fewer than 2^64 leaves has at most 64 hashes."""


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """One entry's share of a flush's signature: where it is and how to reach the root."""

    index: int
    size: int
    path: tuple[bytes, ...]
    signature: bytes


def _is_uint64(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value < 1 << 64


def receipt_leaf(leaf_hash: bytes, logged_at_micros: int) -> bytes:
    """The 72 bytes of a receipt leaf: context line ‖ leaf hash ‖ ``logged_at`` (uint64 BE)."""
    if not isinstance(leaf_hash, bytes) or len(leaf_hash) != merkle.HASH_SIZE:
        raise CheckpointError("a receipt's leaf hash must be 32 bytes")
    if not _is_uint64(logged_at_micros):
        raise CheckpointError("a receipt's time must be microseconds in [0, 2^64)")
    return RECEIPT_V2_LEAF_CONTEXT + leaf_hash + logged_at_micros.to_bytes(8, "big")


def receipt_leaf_hash(leaf_hash: bytes, logged_at_micros: int) -> bytes:
    """The RFC 9162 leaf hash ``SHA-256(0x00 ‖ receipt leaf)`` of one entry's receipt leaf."""
    return merkle.leaf_hash(receipt_leaf(leaf_hash, logged_at_micros))


def batch_message(size: int, root: bytes) -> bytes:
    """The exact 67 bytes a flush's signature covers: context ‖ size (uint64 BE) ‖ root."""
    if not _is_uint64(size) or size == 0:
        raise CheckpointError("a receipt tree's size must be an integer in [1, 2^64)")
    if not isinstance(root, bytes) or len(root) != merkle.HASH_SIZE:
        raise CheckpointError("a receipt tree root must be 32 bytes")
    return RECEIPT_V2_CONTEXT + size.to_bytes(8, "big") + root


def tree_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the RFC 9162 tree over ``leaves`` (leaf hashes), bottom up.

    Level ``l + 1`` hashes level ``l`` in pairs with
    :func:`~refund_registry.domain.merkle.node_hash`; an odd last node moves up
    unchanged. That is RFC 9162's split at the largest power of two below
    ``n``, built bottom up: the last level holds the root. Requires one leaf or more.
    """
    levels = [list(leaves)]
    node = merkle.node_hash
    while len(level := levels[-1]) > 1:
        up = [node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            up.append(level[-1])
        levels.append(up)
    return levels


def level_path(levels: Sequence[Sequence[T]], index: int) -> tuple[T, ...]:
    """The RFC 9162 inclusion path (``PATH``) of leaf ``index``, read off :func:`tree_levels`.

    On each level the sibling is the node at ``i ^ 1``; a node without one (the
    odd last node) adds nothing, since it moves up unchanged. The last level
    (the root) is not read, and any parallel levels work too (the nodes'
    encodings, say), so each node is encoded once per tree, not once per path.
    """
    return tuple(
        [
            level[sibling]
            for depth, level in enumerate(levels[:-1])
            if (sibling := (index >> depth) ^ 1) < len(level)
        ]
    )


@dataclass(frozen=True, slots=True)
class SignedTree:
    """A flush's receipt tree (:func:`tree_levels`) and the signature over its root."""

    levels: list[list[bytes]]
    signature: bytes

    @property
    def size(self) -> int:
        return len(self.levels[0])


def sign_tree(entries: Sequence[tuple[bytes, int]], private_key: Ed25519PrivateKey) -> SignedTree:
    """Hash the receipt tree of ``(leaf hash, logged_at µs)`` pairs and sign its root once.

    About 2n hashes for n entries and a single Ed25519 signature; the paths are
    read off the levels with :func:`level_path`. Requires one entry or more.
    """
    if not entries:
        raise CheckpointError("a receipt tree holds at least one leaf")
    levels = tree_levels([receipt_leaf_hash(h, at) for h, at in entries])
    signature = ed25519_sign(private_key, batch_message(len(entries), levels[-1][0]))
    return SignedTree(levels, signature)


def sign_batch(
    entries: Sequence[tuple[bytes, int]], private_key: Ed25519PrivateKey
) -> list[BatchReceipt]:
    """One :class:`BatchReceipt` per ``(leaf hash, logged_at µs)``, in order, with one signature."""
    if not entries:
        return []
    tree = sign_tree(entries, private_key)
    size = tree.size
    return [BatchReceipt(i, size, level_path(tree.levels, i), tree.signature) for i in range(size)]


def batch_root(
    leaf_hash: bytes, logged_at_micros: int, index: int, size: int, path: Sequence[bytes]
) -> bytes | None:
    """The receipt tree root the path leads to, or ``None`` if any field is malformed."""
    try:
        leaf = receipt_leaf_hash(leaf_hash, logged_at_micros)
    except CheckpointError:
        return None
    if (
        isinstance(index, bool)
        or isinstance(size, bool)
        or not isinstance(index, int)
        or not isinstance(size, int)
        or not 0 <= index < size < 1 << 64
        or len(path) > MAX_PATH
        or any(not isinstance(p, bytes) or len(p) != merkle.HASH_SIZE for p in path)
    ):
        return None
    return merkle.inclusion_root(leaf, index, size, path)


def verify_batch_receipt(
    leaf_hash: bytes,
    logged_at_micros: int,
    index: int,
    size: int,
    path: Sequence[bytes],
    signature: bytes,
    public_key: Ed25519PublicKey,
) -> bool:
    """Whether this is the log key's version-2 receipt for the leaf hash and time.

    Recomputes the receipt leaf, walks the inclusion path to the root (RFC 9162
    §2.1.3.2) and checks the signature over the 67-byte message. Every field
    comes from the party being checked, so anything malformed is ``False``.
    """
    root = batch_root(leaf_hash, logged_at_micros, index, size, path)
    if root is None or not isinstance(signature, bytes) or len(signature) != 64:
        return False
    try:
        public_key.verify(signature, batch_message(size, root))
    except InvalidSignature:
        return False
    return True
