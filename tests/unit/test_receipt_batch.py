"""Version-2 receipts: one signature per flush over an RFC 9162 tree of receipt leaves.

The properties: every receipt of a batch verifies; its path is the one the
log's own proof code builds for that tree; and changing any byte of any field
(leaf hash, time, index, size, a path hash, the signature) makes it fail.
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import (
    RECEIPT_CONTEXT,
    RECEIPT_V2_CONTEXT,
    RECEIPT_V2_LEAF_CONTEXT,
    CheckpointError,
    batch_message,
    receipt_leaf,
    receipt_leaf_hash,
    receipt_message,
    sign_batch,
    sign_receipt,
    verify_batch_receipt,
    verify_receipt,
)
from refund_registry.domain.checkpoint.batch import level_path, tree_levels

KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"batch receipt test key").digest())
PUBLIC = KEY.public_key()
OTHER = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"another key").digest())

hashes = st.binary(min_size=32, max_size=32)
times = st.integers(min_value=0, max_value=(1 << 64) - 1)
# Access-log leaf hashes are unique (each entry has fresh salts and its own
# query id); two equal receipt leaves could trade places and both be true.
entries = st.lists(st.tuples(hashes, times), min_size=1, max_size=40, unique=True)


def _flip(data: bytes, position: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def test_layouts_are_byte_exact() -> None:
    leaf, at = bytes(range(32)), 0x0102030405060708
    assert RECEIPT_V2_CONTEXT == b"refund-registry receipt v2\n"
    assert RECEIPT_V2_LEAF_CONTEXT == b"refund-registry receipt v2 leaf\n"
    assert receipt_leaf(leaf, at) == RECEIPT_V2_LEAF_CONTEXT + leaf + bytes.fromhex(
        "0102030405060708"
    )
    assert len(receipt_leaf(leaf, at)) == 72
    assert receipt_leaf_hash(leaf, at) == hashlib.sha256(b"\x00" + receipt_leaf(leaf, at)).digest()
    message = batch_message(5, leaf)
    assert message == RECEIPT_V2_CONTEXT + bytes.fromhex("0000000000000005") + leaf
    assert len(message) == len(receipt_message(leaf, at)) == 67
    # The two versions' messages differ in their first line, and nowhere can
    # one be read as the other.
    assert message[:27] != receipt_message(leaf, at)[:27] == RECEIPT_CONTEXT


@pytest.mark.parametrize(
    ("size", "root"),
    [(0, bytes(32)), (-1, bytes(32)), (1 << 64, bytes(32)), (1, bytes(31)), (True, bytes(32))],
)
def test_malformed_message_fields_are_refused(size: int, root: bytes) -> None:
    with pytest.raises(CheckpointError):
        batch_message(size, root)


def test_one_entry_is_a_one_leaf_tree_with_an_empty_path() -> None:
    leaf, at = hashlib.sha256(b"entry").digest(), 1_767_268_496_789_012
    (made,) = sign_batch([(leaf, at)], KEY)
    assert (made.index, made.size, made.path) == (0, 1, ())
    PUBLIC.verify(made.signature, batch_message(1, receipt_leaf_hash(leaf, at)))
    assert verify_batch_receipt(leaf, at, 0, 1, (), made.signature, PUBLIC)
    assert sign_batch([], KEY) == []


@settings(max_examples=60, deadline=None)
@given(entries)
def test_every_path_verifies_and_is_the_logs_own_proof(batch: list[tuple[bytes, int]]) -> None:
    made = sign_batch(batch, KEY)
    assert [m.index for m in made] == list(range(len(batch)))
    assert {m.size for m in made} == {len(batch)}
    assert len({m.signature for m in made}) == 1  # one signature for the whole flush
    leaves = [receipt_leaf_hash(h, at) for h, at in batch]
    grown = merkle.Frontier().append(leaves)
    nodes = {(n.level, n.index): n.hash for n in grown.nodes}
    root = grown.frontier.root()
    assert tree_levels(leaves)[-1] == [root]
    PUBLIC.verify(made[0].signature, batch_message(len(batch), root))
    for (leaf, at), m in zip(batch, made, strict=True):
        expected = merkle.inclusion_proof(m.index, m.size, lambda lv, i: nodes[lv, i])
        assert list(m.path) == expected
        assert merkle.verify_inclusion(leaves[m.index], m.index, m.size, m.path, root)
        assert verify_batch_receipt(leaf, at, m.index, m.size, m.path, m.signature, PUBLIC)
        assert not verify_batch_receipt(
            leaf, at, m.index, m.size, m.path, m.signature, OTHER.public_key()
        )


@settings(max_examples=150, deadline=None)
@given(entries, st.data())
def test_any_changed_byte_fails(batch: list[tuple[bytes, int]], data: st.DataObject) -> None:
    made = sign_batch(batch, KEY)
    pick = data.draw(st.integers(0, len(batch) - 1))
    (leaf, at), m = batch[pick], made[pick]
    path, signature = list(m.path), m.signature
    assert verify_batch_receipt(leaf, at, m.index, m.size, path, signature, PUBLIC)
    field = data.draw(st.sampled_from(["leaf", "at", "index", "size", "path", "sig", "cut"]))
    position = data.draw(st.integers(0, 63))
    args = [leaf, at, m.index, m.size, path, signature]
    if field == "leaf":
        args[0] = _flip(leaf, position)
    elif field == "at":
        args[1] = at ^ (1 << position)
    elif field == "index":
        args[2] = m.index ^ (1 << (position % 8))
    elif field == "size":
        args[3] = m.size ^ (1 << (position % 8))
    elif field == "path" and path:
        which = position % len(path)
        args[4] = [*path[:which], _flip(path[which], position), *path[which + 1 :]]
    elif field == "cut":
        args[4] = path[:-1] if path else [leaf]
    else:
        args[5] = _flip(signature, position)
    assert not verify_batch_receipt(*args, PUBLIC)  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(hashes, times)
def test_a_receipt_of_one_version_never_passes_for_the_other(leaf: bytes, at: int) -> None:
    v1 = sign_receipt(leaf, at, KEY)
    (v2,) = sign_batch([(leaf, at)], KEY)
    assert not verify_batch_receipt(leaf, at, 0, 1, (), v1, PUBLIC)
    assert not verify_receipt(leaf, at, v2.signature, PUBLIC)
    # A receipt leaf is never an access-log leaf: entries are JSON objects.
    assert receipt_leaf(leaf, at)[:1] != b"{"


@pytest.mark.parametrize(
    ("index", "size", "path"),
    [(0, 0, []), (1, 1, []), (-1, 2, [bytes(32)]), (0, 2, [bytes(31)]), (0, 2, ["x" * 32])],
)
def test_malformed_fields_are_a_failed_check_not_an_error(
    index: int, size: int, path: list[bytes]
) -> None:
    leaf = bytes(32)
    (made,) = sign_batch([(leaf, 0)], KEY)
    assert not verify_batch_receipt(leaf, 0, index, size, path, made.signature, PUBLIC)
    assert not verify_batch_receipt(bytes(31), 0, 0, 1, [], made.signature, PUBLIC)
    assert not verify_batch_receipt(leaf, -1, 0, 1, [], made.signature, PUBLIC)
    assert not verify_batch_receipt(leaf, 0, 0, 1, [], made.signature[:63], PUBLIC)


@settings(max_examples=40, deadline=None)
@given(st.lists(hashes, min_size=1, max_size=70))
def test_levels_give_rfc_9162_paths(leaves: list[bytes]) -> None:
    levels = tree_levels(leaves)
    grown = merkle.Frontier().append(leaves)
    nodes = {(n.level, n.index): n.hash for n in grown.nodes}
    assert levels[-1] == [grown.frontier.root()]
    for i in range(len(leaves)):
        assert list(level_path(levels, i)) == merkle.inclusion_proof(
            i, len(leaves), lambda lv, j: nodes[lv, j]
        )
