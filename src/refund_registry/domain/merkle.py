"""The access log's Merkle tree: RFC 9162 §2.1 hashing, proofs and their verification.

The access log (SPEC §7) is an append-only list of entries hashed exactly as
RFC 9162 (and RFC 6962 before it) define, so that any generic transparency-log
tool can check what this code produces:

* leaf hash ``SHA-256(0x00 ‖ entry)``, interior node ``SHA-256(0x01 ‖ left ‖ right)``;
* the tree over ``n > 1`` leaves splits at ``k``, the largest power of two below
  ``n``: the left subtree is perfect, the right one holds the rest;
* the root of the empty tree is ``SHA-256("")``.

**Coordinates.** A node is named ``(level, index)``: level 0 are the leaves and
node ``(l, i)`` covers leaves ``[i·2^l, (i+1)·2^l)``. Only *complete* (perfect)
subtrees get a name, because only their hashes never change once the log has
grown past them; the database stores exactly those. A subtree over a partial
range at the right edge of the tree (an *ephemeral* node) changes with every
append, so it is never stored: whenever a proof needs it, it is recomputed from
the complete subtrees that tile its range. That keeps every proof at O(log n)
stored-node reads.

**Pieces.**

* :class:`Frontier` – the compact range ``[0, size)``: the hashes of the perfect
  subtrees the tree currently decomposes into (one per set bit of ``size``). The
  sequencer appends leaf hashes in batches and gets back every complete subtree
  the batch completed, ready to INSERT, plus the new root.
* :func:`inclusion_plan` / :func:`consistency_plan` – which stored nodes a proof
  needs, and how ephemeral elements fold out of them; :meth:`ProofPlan.build`
  assembles the proof from a ``get_node(level, index)`` callable.
* :func:`verify_inclusion` / :func:`verify_consistency` – the client-side
  algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, step by step.

Everything here is pure: no I/O, no clock. Sizes and indices are Python ints
and are limited to 64 bits, as in the RFC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from refund_registry.errors import RegistryError

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
    "leaf_hash",
    "node_hash",
    "root_at",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

MAX_SIZE = 1 << 64
"""Exclusive upper bound on tree sizes: RFC 9162 sizes and indices are uint64."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree, ``SHA-256("")`` (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


class ProofError(RegistryError):
    """A proof cannot be computed or checked because its arguments are malformed.

    Raised for requests that name no proof (an index outside the tree, a first
    size above the second), for hashes of the wrong length, and for a node
    source that returns something other than a 32-byte hash. A well-formed
    proof that simply does not match is not an error: the verifiers return
    ``False`` for it.
    """

    code = "audit.invalid_proof"
    title = "Invalid Merkle proof"


class NodeID(NamedTuple):
    """A complete subtree: ``level`` above the leaves, ``index`` from the left.

    A plain tuple underneath, so it can be a dict key and a query parameter as is.
    """

    level: int
    # The field shadows tuple.index(), which means nothing for a coordinate;
    # "index" is the name RFC 9162 tooling uses, so it wins.
    index: int  # type: ignore[assignment]


class StoredNode(NamedTuple):
    """A complete subtree and its hash, as the sequencer stores it.

    A plain tuple underneath, so a batch can go to ``executemany`` unchanged.
    """

    level: int
    index: int  # type: ignore[assignment]  # see NodeID
    hash: bytes


def leaf_hash(entry: bytes) -> bytes:
    """The RFC 9162 leaf hash ``SHA-256(0x00 ‖ entry)`` of the exact entry bytes."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 interior node hash ``SHA-256(0x01 ‖ left ‖ right)``.

    The 0x00/0x01 prefixes keep a leaf from ever being passed off as a node
    (second-preimage resistance, RFC 9162 §2.1.1). Lengths are not checked
    here, because this is the hot path; callers validate hashes at their edges.
    """
    return _sha256(_NODE_PREFIX + left + right).digest()


def _check_hash(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        length = len(value) if isinstance(value, bytes | bytearray | memoryview) else None
        raise ProofError(
            f"{what} must be {HASH_SIZE} bytes, got "
            + (f"{length} bytes" if length is not None else type(value).__name__)
        )
    return value


def _check_size(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_SIZE:
        raise ProofError(f"{what} must be an integer in [0, 2^64), got {value!r}")
    return value


# --------------------------------------------------------------------------- ranges


def compact_range(begin: int, end: int) -> list[NodeID]:
    """The complete subtrees that tile leaves ``[begin, end)``, left to right.

    Each step takes the largest aligned perfect subtree that starts at the
    current position and still fits, so the list has O(log(end - begin))
    entries. For ``[0, n)`` it is one node per set bit of ``n``, biggest first.
    When ``begin`` is a multiple of the smallest power of two ≥ ``end - begin``
    (true of every range a proof asks for, and of ``[0, n)``), :func:`fold_right`
    over the nodes' hashes is the RFC 9162 hash of the range.
    """
    if not 0 <= begin <= end <= MAX_SIZE:
        raise ProofError(f"invalid leaf range [{begin}, {end})")
    nodes: list[NodeID] = []
    while begin < end:
        # Largest level the alignment of `begin` allows (begin == 0 allows any),
        # then shrunk until the subtree fits before `end`.
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length()
        while begin + (1 << level) > end:
            level -= 1
        nodes.append(NodeID(level, begin >> level))
        begin += 1 << level
    return nodes


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Hash a left-to-right list of adjacent subtrees into one, right to left.

    This is how RFC 9162 splits a tree: the leftmost subtree is the biggest
    perfect one and everything to its right hangs below a single node, so the
    hash of ``[a, b, c]`` is ``node(a, node(b, c))``. The empty list is the empty
    tree's root.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = _sha256(_NODE_PREFIX + left + acc).digest()
    return acc


def _fetch(get_node: Callable[[int, int], bytes], node: NodeID) -> bytes:
    value = get_node(node.level, node.index)
    # A storage bug must fail loudly here rather than yield a plausible but wrong proof.
    return _check_hash(value, f"stored node (level={node.level}, index={node.index})")


def root_at(size: int, get_node: Callable[[int, int], bytes]) -> bytes:
    """The root hash of the tree at ``size`` (≤ the stored tree's size), from stored nodes.

    Reads one stored node per set bit of ``size`` (≤ 64), all complete subtrees
    inside ``[0, size)``, so it also works for any earlier size of the log.
    """
    _check_size(size, "tree size")
    return fold_right([_fetch(get_node, n) for n in compact_range(0, size)])


# --------------------------------------------------------------------------- frontier


class Appended(NamedTuple):
    """What :meth:`Frontier.append` produced: the grown frontier and the new stored nodes."""

    frontier: Frontier
    nodes: list[StoredNode]


@dataclass(frozen=True, slots=True)
class Frontier:
    """The compact range ``[0, size)``: what a log must remember to keep appending.

    ``hashes`` are the hashes of :meth:`node_ids` – one perfect subtree per set
    bit of ``size``, biggest (leftmost) first. That is O(log n) state, enough to
    compute the root and to absorb new leaves, which is why the sequencer keeps
    one in memory and can rebuild it after a restart from the stored nodes
    (``Frontier(size, tuple(stored hash of n for n in Frontier.node_ids_for(size)))``).

    A frontier is immutable: :meth:`append` returns a new one, so a sequencer
    whose database transaction fails simply keeps the old value.
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _check_size(self.size, "frontier size")
        if len(self.hashes) != self.size.bit_count():
            raise ProofError(
                f"a frontier of size {self.size} has {self.size.bit_count()} hashes, "
                f"got {len(self.hashes)}"
            )
        for i, h in enumerate(self.hashes):
            _check_hash(h, f"frontier hash {i}")

    @staticmethod
    def node_ids_for(size: int) -> list[NodeID]:
        """Coordinates of the hashes a frontier of ``size`` holds, in order."""
        return compact_range(0, _check_size(size, "frontier size"))

    def node_ids(self) -> list[NodeID]:
        """Coordinates of :attr:`hashes`, in the same order."""
        return compact_range(0, self.size)

    def root(self) -> bytes:
        """The RFC 9162 root hash of the tree of :attr:`size` leaves."""
        return fold_right(self.hashes)

    def append(self, leaf_hashes: Iterable[bytes], *, include_leaves: bool = True) -> Appended:
        """Append leaves (given as leaf hashes) and list every complete subtree they complete.

        Leaves get indices ``size, size + 1, …`` in iteration order. The result
        holds the grown frontier and, in creation order, one :class:`StoredNode`
        per complete subtree created: the leaf itself (level 0, omitted when
        ``include_leaves`` is false because the store already keeps leaf hashes
        beside the entries) and each node the leaf closed. Those are exactly the
        nodes a database-backed log INSERTs so that proofs never need more than
        O(log n) reads.

        Amortised cost is O(1) per leaf: the ``i``-th leaf merges once per
        trailing one bit of ``i``, two hashes on average. ``self`` is not
        modified. Every leaf hash must be 32 bytes; the batch is checked before
        anything is computed, so a bad batch leaves nothing half-appended.
        """
        batch = leaf_hashes if isinstance(leaf_hashes, list | tuple) else list(leaf_hashes)
        for position, h in enumerate(batch):
            if type(h) is not bytes or len(h) != HASH_SIZE:
                _check_hash(h, f"leaf hash {position} of the batch")
        size = self.size
        if size + len(batch) > MAX_SIZE:
            raise ProofError("appending this batch would exceed 2^64 leaves")

        stack = list(self.hashes)
        push, pop = stack.append, stack.pop
        out: list[StoredNode] = []
        emit = out.append
        sha256 = _sha256
        prefix = _NODE_PREFIX
        for h in batch:
            if include_leaves:
                emit(StoredNode(0, size, h))
            # Each trailing 1 bit of the new leaf's index is a perfect subtree of
            # the same height on the stack, immediately to its left: merge them.
            index = size
            level = 0
            while index & 1:
                h = sha256(prefix + pop() + h).digest()
                index >>= 1
                level += 1
                emit(StoredNode(level, index, h))
            push(h)
            size += 1
        return Appended(Frontier(size, tuple(stack)), out)


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
            hashes = [_fetch(get_node, node) for node in element]
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
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
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
    _check_size(size1, "first tree size")
    _check_size(size2, "second tree size")
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


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf ``leaf_hash`` at ``index`` in the tree (``size``, ``root``).

    RFC 9162 §2.1.3.2, step by step. Returns ``False`` wherever the RFC says
    "fail the proof verification" (including ``index ≥ size`` and a proof of
    the wrong length); raises :class:`ProofError` only for arguments that are
    not of the right shape (a hash that is not 32 bytes, a negative size).
    The root must come from a checkpoint the caller trusts for ``size``.
    """
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof element {i}")

    # 1. leaf_index ≥ tree_size fails.
    if index >= size:
        return False
    # 2.-3.
    fn, sn = index, size - 1
    r = leaf_hash
    # 4.
    for p in proof:
        # 4a. A proof longer than the path to the root fails.
        if sn == 0:
            return False
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
    return sn == 0 and r == root


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
    _check_size(size1, "first tree size")
    _check_size(size2, "second tree size")
    _check_hash(root1, "first root hash")
    _check_hash(root2, "second root hash")
    for i, c in enumerate(proof):
        _check_hash(c, f"consistency proof element {i}")

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
