"""The access log's Merkle tree: RFC 9162 §2.1 hashing, coordinates and the frontier.

The access log is an append-only list of entries hashed exactly as RFC 9162
(and RFC 6962 before it) define, so that any generic transparency-log tool can
check what this code produces:

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

:class:`Frontier` is the compact range ``[0, size)``: the hashes of the perfect
subtrees the tree currently decomposes into (one per set bit of ``size``). The
sequencer appends leaf hashes in batches and gets back every complete subtree
the batch completed, ready to INSERT, plus the new root.

Everything here is pure: no I/O, no clock. Sizes and indices are Python ints
and are limited to 64 bits, as in the RFC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from refund_registry.errors import RegistryError

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


def check_hash(value: object, what: str) -> bytes:
    """``value`` if it is a 32-byte hash; :class:`ProofError` naming ``what`` otherwise."""
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        length = len(value) if isinstance(value, bytes | bytearray | memoryview) else None
        raise ProofError(
            f"{what} must be {HASH_SIZE} bytes, got "
            + (f"{length} bytes" if length is not None else type(value).__name__)
        )
    return value


def check_size(value: int, what: str) -> int:
    """``value`` if it is a uint64 size or index; :class:`ProofError` naming ``what`` otherwise."""
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


def fetch_node(get_node: Callable[[int, int], bytes], node: NodeID) -> bytes:
    """The stored hash of complete subtree ``node``, read through ``get_node``."""
    value = get_node(node.level, node.index)
    # A storage bug must fail loudly here rather than yield a plausible but wrong proof.
    return check_hash(value, f"stored node (level={node.level}, index={node.index})")


def root_at(size: int, get_node: Callable[[int, int], bytes]) -> bytes:
    """The root hash of the tree at ``size`` (≤ the stored tree's size), from stored nodes.

    Reads one stored node per set bit of ``size`` (≤ 64), all complete subtrees
    inside ``[0, size)``, so it also works for any earlier size of the log.
    """
    check_size(size, "tree size")
    return fold_right([fetch_node(get_node, n) for n in compact_range(0, size)])


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
        check_size(self.size, "frontier size")
        if len(self.hashes) != self.size.bit_count():
            raise ProofError(
                f"a frontier of size {self.size} has {self.size.bit_count()} hashes, "
                f"got {len(self.hashes)}"
            )
        for i, h in enumerate(self.hashes):
            check_hash(h, f"frontier hash {i}")

    @staticmethod
    def node_ids_for(size: int) -> list[NodeID]:
        """Coordinates of the hashes a frontier of ``size`` holds, in order."""
        return compact_range(0, check_size(size, "frontier size"))

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
                check_hash(h, f"leaf hash {position} of the batch")
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
