"""The sequencer's rules: what it may append, when a checkpoint is due, what it refuses to sign.

Pure: the sequencer (``services/sequencer.py``) reads the store, asks these
functions, and writes what they return. Time is an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from refund_registry.domain import merkle


class SequencerError(RuntimeError):
    """The stored log is not what the sequencer must build on; it stops rather than sign.

    Raised when a stored node is missing, an entry's bytes do not hash to its
    stored leaf hash (its receipt would not match the tree), or the stored
    nodes no longer reproduce the latest checkpoint. Each means damage that an
    operator must look at; sequencing on would bury it under signed checkpoints.
    """


def leaves_for(
    size: int, pending: Sequence[tuple[int, int, bytes, bytes]]
) -> tuple[list[bytes], list[tuple[int, int, int, bytes]]]:
    """Leaf hashes for ``(entry id, txid, entry, stored leaf hash)`` entries appended at ``size``.

    Returns the hashes in order and the ``(index, entry id, txid, leaf hash)``
    rows that record where each entry went. Each hash is recomputed rather than
    trusted: the tree must commit to the very bytes an auditor will read, and
    the receipt already promised this hash for them.
    """
    hashes: list[bytes] = []
    leaves: list[tuple[int, int, int, bytes]] = []
    for offset, (entry_id, txid, entry, stored) in enumerate(pending):
        digest = merkle.leaf_hash(entry)
        if digest != stored:
            raise SequencerError(
                f"access_log entry {entry_id} does not hash to its stored leaf hash"
            )
        hashes.append(digest)
        leaves.append((size + offset, entry_id, txid, digest))
    return hashes, leaves


def frontier_from(size: int, found: dict[tuple[int, int], bytes]) -> merkle.Frontier:
    """The frontier of the stored tree of ``size`` leaves, from its stored nodes.

    ``found`` must hold (at least) the nodes of ``Frontier.node_ids_for(size)``.
    """
    ids = merkle.Frontier.node_ids_for(size)
    missing = [n for n in ids if (n.level, n.index) not in found]
    if missing:
        raise SequencerError(f"the stored tree of size {size} lacks nodes {missing}")
    return merkle.Frontier(size, tuple(found[n.level, n.index] for n in ids))


def check_extends(size: int, root: bytes, found: dict[tuple[int, int], bytes]) -> None:
    """The stored nodes must still give ``root`` at ``size``, or nothing new is signed.

    ``found`` must hold (at least) the nodes of ``merkle.compact_range(0, size)``.
    """
    ids = merkle.compact_range(0, size)
    if any((n.level, n.index) not in found for n in ids):
        raise SequencerError(f"the stored tree lacks nodes below its checkpoint of size {size}")
    if merkle.fold_right([found[n.level, n.index] for n in ids]) != root:
        raise SequencerError(
            f"the stored tree no longer matches its checkpoint of size {size}; "
            "refusing to sign a checkpoint that would not be consistent with it"
        )


def checkpoint_due(
    size: int,
    latest_size: int,
    latest_at: datetime,
    now: datetime,
    *,
    interval: float,
    force: bool,
) -> bool:
    """Whether the stored tree of ``size`` leaves gets a checkpoint after the latest one.

    Only a grown tree does, and only once the latest checkpoint is ``interval``
    seconds old, unless ``force``. A tree smaller than its checkpoint is damage.
    """
    if size < latest_size:
        raise SequencerError(
            f"the stored tree has {size} leaves, fewer than its checkpoint of {latest_size}"
        )
    if size == latest_size:
        return False
    return force or (now - latest_at).total_seconds() >= interval


def checkpoint_surely_not_due(
    tree_size: int | None,
    checkpoint_size: int,
    checkpoint_at: datetime,
    now: datetime,
    *,
    interval: float,
    force: bool,
) -> bool:
    """True when what a sequencer last saw already rules a checkpoint out.

    ``tree_size`` is the size of the tree this sequencer last built (``None``
    if it has built none); the checkpoint figures are the latest it saw. Lets
    a sequencer skip the look-up in the store; a False answer is not a promise
    that a checkpoint is due, only that the store must be asked.
    """
    unchanged = tree_size is not None and tree_size == checkpoint_size
    recent = (now - checkpoint_at).total_seconds() < interval
    return unchanged or (recent and not force)
