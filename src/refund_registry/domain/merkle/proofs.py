"""Inclusion and consistency proofs of the access log's Merkle tree, and their verification.

* :func:`inclusion_plan` / :func:`consistency_plan` – which stored nodes a proof
  needs, and how ephemeral elements fold out of them; :meth:`ProofPlan.build`
  assembles the proof from a ``get_node(level, index)`` callable, so every
  proof costs O(log n) stored-node reads.
* :func:`verify_inclusion` / :func:`verify_consistency` – the client-side
  algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, step by step;
  :func:`inclusion_root` is the first without its last comparison, for
  signatures that cover the root.

Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from refund_registry.domain.merkle.tree import (
    EMPTY_ROOT,
    NodeID,
    ProofError,
    check_hash,
    check_size,
    compact_range,
    fetch_node,
    fold_right,
    node_hash,
)

# --------------------------------------------------------------------------- proof plans


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """Which stored nodes make up a proof, element by element.

    ``elements[j]`` lists the complete subtrees (left to right) whose
    :func:`fold_right` is the ``j``-th hash of the proof: one node for a complete
    subtree, several for the (at most one) ephemeral node at the right edge of
    the tree. Elements are in RFC 9162 order, from the leaf's level up.

    A store with a synchronous lookup calls :meth:`build`; an asynchronous one
    fetches :meth:`node_ids` in one query and passes a dict lookup to
    :meth:`build` (``plan.build(lambda level, index: found[level, index])``).
    """

    elements: tuple[tuple[NodeID, ...], ...]

    def node_ids(self) -> list[NodeID]:
        """Every stored node the proof needs, without repeats, in proof order."""
        return [node for element in self.elements for node in element]

    def build(self, get_node: Callable[[int, int], bytes]) -> list[bytes]:
        """The proof hashes, reading each needed node once through ``get_node``.

        ``get_node(level, index)`` must return the 32-byte hash of that complete
        subtree; only nodes inside the tree the plan was made for are asked for.
        """
        proof: list[bytes] = []
        for element in self.elements:
            hashes = [fetch_node(get_node, node) for node in element]
            proof.append(fold_right(hashes))
        return proof


def _largest_power_of_two_below(n: int) -> int:
    # RFC 9162's k for n > 1: the split point of the tree over n leaves.
    return 1 << ((n - 1).bit_length() - 1)


def _perfect(begin: int, width: int) -> tuple[NodeID, ...]:
    # `width` is a power of two and `begin` a multiple of it.
    level = width.bit_length() - 1
    return (NodeID(level, begin >> level),)


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """The plan of the inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    Follows RFC 9162 §2.1.3.1 (``PATH``): walking down from the root, each
    split contributes the hash of the half that does not hold the leaf. The
    left half is always a perfect subtree; the right half may be ephemeral,
    and then appears as the complete subtrees that tile it. Requires
    ``0 ≤ index < size``.
    """
    check_size(index, "leaf index")
    check_size(size, "tree size")
    if index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    top_down: list[tuple[NodeID, ...]] = []
    begin, width, m = 0, size, index
    while width > 1:
        k = _largest_power_of_two_below(width)
        if m < k:
            top_down.append(tuple(compact_range(begin + k, begin + width)))
            width = k
        else:
            top_down.append(_perfect(begin, k))
            begin, width, m = begin + k, width - k, m - k
    top_down.reverse()  # the proof lists siblings from the leaf upwards
    return ProofPlan(tuple(top_down))


def consistency_plan(size1: int, size2: int) -> ProofPlan:
    """The plan of the consistency proof from the tree of ``size1`` leaves to ``size2``.

    Follows RFC 9162 §2.1.4.1 (``PROOF``/``SUBPROOF``) for ``0 < size1 < size2``.
    Two trivial cases the RFC leaves out have an empty proof, because there is
    nothing to prove: ``size1 == size2`` (the roots must be equal) and
    ``size1 == 0`` (the empty tree is a prefix of every tree). Requires
    ``size1 ≤ size2``.
    """
    check_size(size1, "first tree size")
    check_size(size2, "second tree size")
    if size1 > size2:
        raise ProofError(f"first tree size {size1} is larger than second tree size {size2}")
    if size1 == 0 or size1 == size2:
        return ProofPlan(())
    top_down: list[tuple[NodeID, ...]] = []
    begin, width, m = 0, size2, size1
    # `known` is SUBPROOF's b: whether the verifier already holds the hash of the
    # subtree [begin, begin + m), which is true only while it is the old root.
    known = True
    while m != width:
        k = _largest_power_of_two_below(width)
        if m <= k:
            top_down.append(tuple(compact_range(begin + k, begin + width)))
            width = k
        else:
            top_down.append(_perfect(begin, k))
            begin, width, m, known = begin + k, width - k, m - k, False
    if not known:
        # SUBPROOF(m, D[m], false) = MTH(D[m]). The loop can only stop after a
        # left step (a right step keeps m != width), so this range is perfect.
        top_down.append(_perfect(begin, width))
    top_down.reverse()
    return ProofPlan(tuple(top_down))


def inclusion_proof(index: int, size: int, get_node: Callable[[int, int], bytes]) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    Shorthand for ``inclusion_plan(index, size).build(get_node)``; O(log size)
    node reads. Requires ``0 ≤ index < size`` and every complete subtree of
    ``[0, size)`` to be readable.
    """
    return inclusion_plan(index, size).build(get_node)


def consistency_proof(size1: int, size2: int, get_node: Callable[[int, int], bytes]) -> list[bytes]:
    """The RFC 9162 consistency proof from ``size1`` to ``size2``; see :func:`consistency_plan`."""
    return consistency_plan(size1, size2).build(get_node)


# --------------------------------------------------------------------------- verification


def inclusion_root(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root hash that ``proof`` leads to from leaf ``leaf_hash`` at ``index`` of ``size``.

    RFC 9162 §2.1.3.2 steps 1 to 5 without the final comparison with a root:
    ``None`` wherever the RFC says "fail the proof verification" (``index ≥
    size``, a proof of the wrong length). For a receipt whose signature covers
    the root, the root is recomputed here and the signature checked over it.
    Raises :class:`ProofError` only for arguments of the wrong shape.
    """
    check_hash(leaf_hash, "leaf hash")
    check_size(index, "leaf index")
    check_size(size, "tree size")
    for i, p in enumerate(proof):
        check_hash(p, f"inclusion proof element {i}")

    # 1. leaf_index ≥ tree_size fails.
    if index >= size:
        return None
    # 2.-3.
    fn, sn = index, size - 1
    r = leaf_hash
    # 4.
    for p in proof:
        # 4a. A proof longer than the path to the root fails.
        if sn == 0:
            return None
        # 4b. The path node is a right child (fn odd), or the last node of its
        # level whose parent is further up (fn == sn): p is its left sibling.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                # Climb past the levels where this node has no sibling.
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        # 4c.
        fn >>= 1
        sn >>= 1
    # 5. A proof shorter than the path leaves sn > 0.
    return r if sn == 0 else None


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf ``leaf_hash`` at ``index`` in the tree (``size``, ``root``).

    RFC 9162 §2.1.3.2, step by step (:func:`inclusion_root`, then step 5's
    comparison). Returns ``False`` wherever the RFC says "fail the proof
    verification" (including ``index ≥ size`` and a proof of the wrong
    length); raises :class:`ProofError` only for arguments that are not of the
    right shape (a hash that is not 32 bytes, a negative size). The root must
    come from a checkpoint the caller trusts for ``size``.
    """
    check_hash(root, "root hash")
    return inclusion_root(leaf_hash, index, size, proof) == root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree (``size2``, ``root2``) extends (``size1``, ``root1``).

    RFC 9162 §2.1.4.2, step by step, for ``0 < size1 < size2``. Beyond the RFC,
    and with an empty proof only: equal sizes verify iff the roots are equal,
    and ``size1 == 0`` verifies iff ``root1`` is the empty tree's root (the
    empty tree is a prefix of every tree; nothing binds ``root2`` then). Returns
    ``False`` wherever the RFC says "fail the proof verification" and for
    ``size1 > size2``; raises :class:`ProofError` only for arguments of the
    wrong shape (hashes that are not 32 bytes, negative sizes).
    """
    check_size(size1, "first tree size")
    check_size(size2, "second tree size")
    check_hash(root1, "first root hash")
    check_hash(root2, "second root hash")
    for i, c in enumerate(proof):
        check_hash(c, f"consistency proof element {i}")

    if size1 > size2:
        return False
    if size1 == size2:
        return len(proof) == 0 and root1 == root2
    if size1 == 0:
        return len(proof) == 0 and root1 == EMPTY_ROOT

    # 1. An empty proof fails.
    if not proof:
        return False
    path = list(proof)
    # 2. When size1 is a power of two, the old root is itself a node of the new
    # tree and the proof leaves it out.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # 3.
    fn, sn = size1 - 1, size2 - 1
    # 4. Skip the levels where the old tree's last node is a right child; the
    # proof starts at the first node both trees share.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        # 6a.
        if sn == 0:
            return False
        # 6b. c is a left sibling: it belongs to both trees.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            # c is a right sibling: it exists in the new tree only.
            sr = node_hash(sr, c)
        # 6c.
        fn >>= 1
        sn >>= 1
    # 7.
    return sn == 0 and fr == root1 and sr == root2
