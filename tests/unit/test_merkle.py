"""The access-log Merkle tree, tested three ways.

1. Known answers: the RFC 6962 test vectors published with the Certificate
   Transparency code (and kept in transparency-dev/merkle ``testonly``), plus
   roots we pinned with an independent one-line command.
2. A deliberately naive reference: RFC 9162 §2.1's MTH, PATH and
   PROOF/SUBPROOF transcribed as recursive functions over the list of entries,
   cross-checked under Hypothesis against the frontier, the proof plans built
   from stored nodes, and the verifiers.
3. Tamper properties: any flipped byte of a proof, root or leaf, and any other
   index or size, makes verification fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from refund_registry.domain import merkle
from refund_registry.domain.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeID,
    ProofError,
    compact_range,
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------- naive reference


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Reference:
    """RFC 9162 §2.1 definitions, written as the RFC states them.

    Ranges are ``[lo, hi)`` over ``entries`` (the RFC's ``D[lo:hi]``). MTH is
    memoised only so that checking every proof of a 2,000-leaf tree stays fast;
    each value is still computed straight from the definition.
    """

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self._mth: dict[tuple[int, int], bytes] = {}

    @staticmethod
    def split(n: int) -> int:
        # "k is the largest power of two smaller than n (i.e., k < n <= 2k)"
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def mth(self, lo: int, hi: int) -> bytes:
        key = (lo, hi)
        if key not in self._mth:
            n = hi - lo
            if n == 0:
                value = _sha256(b"")
            elif n == 1:
                value = _sha256(b"\x00" + self.entries[lo])
            else:
                k = self.split(n)
                value = _sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))
            self._mth[key] = value
        return self._mth[key]

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]), ``m`` relative to ``lo``."""
        n = hi - lo
        if n == 1:
            return []
        k = self.split(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = self.split(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def root(self, n: int) -> bytes:
        return self.mth(0, n)

    def inclusion(self, m: int, n: int) -> list[bytes]:
        return self.path(m, 0, n)

    def consistency(self, m: int, n: int) -> list[bytes]:
        # PROOF(m, D[n]) = SUBPROOF(m, D[n], true), defined for 0 < m <= n. For m == 0
        # the module returns an empty proof (the empty tree is a prefix of all trees).
        return [] if m == 0 else self.subproof(m, 0, n, True)


def test_reference_reproduces_published_vectors() -> None:
    # The reference is only a judge if it agrees with the published vectors itself.
    ref = Reference(CT_LEAVES)
    assert [ref.root(n) for n in range(9)] == CT_ROOTS
    for (index, size), want in CT_INCLUSION.items():
        assert ref.inclusion(index, size) == want
    for (size1, size2), want in CT_CONSISTENCY.items():
        assert ref.consistency(size1, size2) == want


# --------------------------------------------------------------------------- helpers


class Store:
    """An in-memory stand-in for the node table, fed from Frontier.append."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.frontier = Frontier()
        self.reads = 0

    def append(self, leaf_hashes: list[bytes]) -> None:
        appended = self.frontier.append(leaf_hashes)
        for node in appended.nodes:
            key = (node.level, node.index)
            assert key not in self.nodes, f"node {key} emitted twice"
            self.nodes[key] = node.hash
        self.frontier = appended.frontier

    def getter(self, tree_size: int) -> Callable[[int, int], bytes]:
        """A get_node that fails unless asked for a complete subtree inside [0, tree_size)."""

        def get_node(level: int, index: int) -> bytes:
            assert (index + 1) << level <= tree_size, (level, index, tree_size)
            self.reads += 1
            return self.nodes[level, index]

        return get_node


def build(entries: list[bytes], batch: int = 7) -> Store:
    store = Store()
    hashes = [leaf_hash(e) for e in entries]
    for start in range(0, len(hashes), batch):
        store.append(hashes[start : start + batch])
    return store


def entries_for(size: int, salt: bytes = b"") -> list[bytes]:
    # Distinct entries, so no leaf is legitimately found at two indices.
    return [salt + i.to_bytes(4, "big") for i in range(size)]


def flip(data: bytes, position: int, mask: int) -> bytes:
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)


def flipped_proofs(proof: list[bytes]) -> Iterator[list[bytes]]:
    """The proof with one bit (low or high) of one byte of one element flipped, every way."""
    for element in range(len(proof)):
        for position in range(32):
            for mask in (0x01, 0x80):
                bad = list(proof)
                bad[element] = flip(proof[element], position, mask)
                yield bad


# ------------------------------------------------------------- 1. known answers

# RFC 6962 test data from the Certificate Transparency project, as published in
# transparency-dev/merkle testonly/constants.go and testonly/reference_test.go.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
# Complete-subtree hashes of the 8-leaf tree, by (level, index).
CT_NODES = {
    (level, index): bytes.fromhex(h)
    for level, row in enumerate(
        (
            (
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
            ),
            (
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            ),
            (
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ),
            ("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",),
        )
    )
    for index, h in enumerate(row)
}
_N = CT_NODES
CT_INCLUSION = {
    (0, 1): [],
    (0, 2): [_N[0, 1]],
    (1, 2): [_N[0, 0]],
    (2, 3): [_N[1, 0]],
    (1, 5): [_N[0, 0], _N[1, 1], _N[0, 4]],
    (0, 8): [_N[0, 1], _N[1, 1], _N[2, 1]],
    (5, 8): [_N[0, 4], _N[1, 3], _N[2, 0]],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): [_N[0, 1], _N[1, 1], _N[2, 1]],
    (2, 5): [_N[1, 1], _N[0, 4]],
    (6, 8): [_N[1, 2], _N[1, 3], _N[2, 0]],
}

# Roots pinned independently of this codebase; reproduce with:
# python3 -c "import hashlib;H=lambda b:hashlib.sha256(b).digest();M=lambda d:H(b'') if not d else H(b'\0'+d[0]) if len(d)==1 else (lambda k:H(b'\1'+M(d[:k])+M(d[k:])))(1<<(len(d)-1).bit_length()-1);[print(n,M([bytes([i]) for i in range(n)]).hex(),M([b'']*n).hex()) for n in (0,1,2,3,7,8)]"  # noqa: E501
PINNED_ROOTS = {
    # size: (leaves bytes([i]) for i < size, leaves all b"")
    0: (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    1: (
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    ),
    2: (
        "a20bf9a7cc2dc8a08f5f415a71b19f6ac427bab54d24eec868b5d3103449953a",
        "fe43d66afa4a9a5c4f9c9da89f4ffb52635c8f342e7ffb731d68e36c5982072a",
    ),
    3: (
        "3b6cccd7e3e023ff393006f030315ee7ad9eb111b022b41fba7e5b7a3973f688",
        "4837665dfe640a370e7496c691987562d02462142c5f34f59e185911a12370ea",
    ),
    7: (
        "3560191803028444b232018ac047fdb561c09c23a7a6876c85e08b5e4d48e9f3",
        "087a310a52e729575149b1417c1c7e5aa475c5561b630e8ed628cfee381458c0",
    ),
    8: (
        "ef7f49b620f6c7ea9b963a214da34b5021c6ded8ed57734380a311ab726aa907",
        "2960044c62f2354e945e8d78fdd220a05f2c0879f24df6f11ef5cc26b5270a0e",
    ),
}


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == _N[0, 0]
    assert leaf_hash(b"\x00") == _N[0, 1]
    assert node_hash(_N[0, 0], _N[0, 1]) == _N[1, 0]
    assert Frontier().root() == EMPTY_ROOT


def test_ct_roots_for_every_size() -> None:
    store = Store()
    assert store.frontier.root() == CT_ROOTS[0]
    for size, entry in enumerate(CT_LEAVES, start=1):
        store.append([leaf_hash(entry)])
        assert store.frontier.root() == CT_ROOTS[size]
    assert store.nodes == CT_NODES
    for size in range(9):
        assert root_at(size, store.getter(size)) == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_ct_inclusion_proofs(index: int, size: int) -> None:
    store = build(CT_LEAVES, batch=3)
    proof = inclusion_proof(index, size, store.getter(size))
    assert proof == CT_INCLUSION[index, size]
    assert verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, CT_ROOTS[size])


@pytest.mark.parametrize(("size1", "size2"), sorted(CT_CONSISTENCY))
def test_ct_consistency_proofs(size1: int, size2: int) -> None:
    store = build(CT_LEAVES, batch=5)
    proof = consistency_proof(size1, size2, store.getter(size2))
    assert proof == CT_CONSISTENCY[size1, size2]
    assert verify_consistency(size1, size2, CT_ROOTS[size1], CT_ROOTS[size2], proof)


@pytest.mark.parametrize("size", sorted(PINNED_ROOTS))
def test_pinned_roots(size: int) -> None:
    want_distinct, want_empty = (bytes.fromhex(h) for h in PINNED_ROOTS[size])
    distinct = build([bytes([i]) for i in range(size)], batch=2)
    empties = build([b""] * size, batch=3)
    assert distinct.frontier.root() == want_distinct
    assert empties.frontier.root() == want_empty
    assert Reference([bytes([i]) for i in range(size)]).root(size) == want_distinct


# ------------------------------------------------------------- 2. reference cross-checks


def check_tree(size: int, store: Store, ref: Reference) -> None:
    """Every inclusion and consistency proof at ``size`` equals the reference and verifies."""
    get = store.getter(size)
    root = ref.root(size)
    assert root_at(size, get) == root
    for index in range(size):
        plan = inclusion_plan(index, size)
        # O(log n) stored nodes, never an ephemeral one (the getter asserts that).
        assert len(plan.node_ids()) <= 2 * size.bit_length()
        proof = plan.build(get)
        assert proof == ref.inclusion(index, size), (index, size)
        assert verify_inclusion(leaf_hash(ref.entries[index]), index, size, proof, root)
    for size1 in range(size + 1):
        plan = consistency_plan(size1, size)
        assert len(plan.node_ids()) <= 2 * size.bit_length() + 1
        proof = plan.build(get)
        assert proof == ref.consistency(size1, size), (size1, size)
        assert verify_consistency(size1, size, ref.root(size1), root, proof)


def test_every_proof_of_every_small_tree() -> None:
    entries = entries_for(40)
    store, ref = build(entries, batch=1), Reference(entries)
    for size in range(1, len(entries) + 1):
        check_tree(size, store, ref)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    size=st.integers(min_value=1, max_value=2000),
    batch_sizes=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=20),
    earlier=st.lists(st.floats(min_value=0, max_value=1), max_size=3),
    salt=st.binary(max_size=4),
)
@example(size=2000, batch_sizes=[1], earlier=[0.5], salt=b"")
@example(size=1024, batch_sizes=[1000, 24], earlier=[0.999], salt=b"")
@example(size=1025, batch_sizes=[1024, 1], earlier=[], salt=b"x")
def test_frontier_and_proofs_match_reference(
    size: int, batch_sizes: list[int], earlier: list[float], salt: bytes
) -> None:
    entries = entries_for(size, salt)
    ref = Reference(entries)
    hashes = [leaf_hash(e) for e in entries]
    store = Store()
    position, turn = 0, 0
    while position < size:
        step = batch_sizes[turn % len(batch_sizes)]
        store.append(hashes[position : position + step])
        position = min(size, position + step)
        turn += 1
        assert store.frontier.size == position
        assert store.frontier.root() == ref.root(position)
        assert store.frontier.node_ids() == Frontier.node_ids_for(position)

    # Exactly the complete subtrees were emitted, each with its RFC hash.
    want = {(level, index) for level in range(size.bit_length()) for index in range(size >> level)}
    assert set(store.nodes) == want
    for level, index in want:
        lo = index << level
        assert store.nodes[level, index] == ref.mth(lo, lo + (1 << level))

    check_tree(size, store, ref)
    # Proofs for earlier tree sizes come from the same stored nodes.
    for fraction in earlier:
        old = max(1, int(size * fraction))
        for index in {0, old // 2, old - 1}:
            proof = inclusion_proof(index, old, store.getter(old))
            assert proof == ref.inclusion(index, old)
        for size1 in {1, old // 3 or 1, old}:
            proof = consistency_proof(size1, old, store.getter(old))
            assert proof == ref.consistency(size1, old)
            assert verify_consistency(size1, old, ref.root(size1), ref.root(old), proof)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=70), min_size=1, max_size=6))
def test_frontier_restored_from_stored_nodes_continues_identically(sizes: list[int]) -> None:
    entries = entries_for(sum(sizes))
    hashes = [leaf_hash(e) for e in entries]
    straight = Store()
    straight.append(hashes)
    # Restart after every batch, rebuilding the frontier from the store only.
    restarted = Store()
    position = 0
    for step in sizes:
        size = restarted.frontier.size
        ids = Frontier.node_ids_for(size)
        restarted.frontier = Frontier(size, tuple(restarted.nodes[n] for n in ids))
        restarted.append(hashes[position : position + step])
        position += step
    assert restarted.nodes == straight.nodes
    assert restarted.frontier == straight.frontier


def test_append_without_leaves_and_immutability() -> None:
    hashes = [leaf_hash(e) for e in entries_for(12)]
    start = Frontier().append(hashes[:5]).frontier
    appended = start.append(hashes[5:], include_leaves=False)
    assert all(node.level > 0 for node in appended.nodes)
    assert [(n.level, n.index) for n in appended.nodes] == [
        (1, 2),
        (1, 3),
        (2, 1),
        (3, 0),
        (1, 4),
        (1, 5),
        (2, 2),
    ]
    assert start.size == 5  # untouched
    assert appended.frontier.size == 12
    assert start.append([]).frontier == start


def test_append_rejects_a_bad_batch_before_computing_anything() -> None:
    good = [leaf_hash(b"a"), leaf_hash(b"b")]
    with pytest.raises(ProofError):
        Frontier().append([*good, b"short"])
    with pytest.raises(ProofError):
        Frontier().append([bytearray(32)])  # type: ignore[list-item]


def test_frontier_rejects_inconsistent_state() -> None:
    with pytest.raises(ProofError):
        Frontier(3, (EMPTY_ROOT,))  # size 3 needs two subtree hashes
    with pytest.raises(ProofError):
        Frontier(1, (b"x" * 31,))
    with pytest.raises(ProofError):
        Frontier(-1, ())


@given(begin=st.integers(0, 1 << 20), width=st.integers(0, 1 << 20))
def test_compact_range_tiles_the_range_with_aligned_subtrees(begin: int, width: int) -> None:
    end = begin + width
    nodes = compact_range(begin, end)
    position = begin
    for node in nodes:
        assert node.index << node.level == position  # aligned and contiguous
        position += 1 << node.level
    assert position == end
    levels = [n.level for n in nodes]
    peak = levels.index(max(levels)) if levels else 0
    # Rising then falling: the minimal decomposition.
    assert levels[:peak] == sorted(levels[:peak])
    assert levels[peak:] == sorted(levels[peak:], reverse=True)


def test_plans_refuse_impossible_requests() -> None:
    for index, size in ((0, 0), (5, 5), (-1, 3)):
        with pytest.raises(ProofError):
            inclusion_plan(index, size)
    with pytest.raises(ProofError):
        consistency_plan(5, 4)
    with pytest.raises(ProofError):
        inclusion_plan(0, 1 << 64)
    assert consistency_plan(0, 9).elements == ()
    assert consistency_plan(9, 9).elements == ()
    assert inclusion_plan(0, 1).elements == ()


def test_a_bad_stored_node_fails_loudly() -> None:
    with pytest.raises(ProofError):
        inclusion_proof(0, 2, lambda level, index: b"\x00" * 31)
    with pytest.raises(ProofError):
        root_at(3, lambda level, index: "not bytes")  # type: ignore[arg-type,return-value]


def test_large_tree_coordinates_stay_logarithmic() -> None:
    size = (1 << 63) + 12345
    plan = inclusion_plan(size - 2, size)
    assert len(plan.elements) <= 64
    assert all((n.index + 1) << n.level <= size for n in plan.node_ids())
    plan = consistency_plan(size // 3, size)
    assert all((n.index + 1) << n.level <= size for n in plan.node_ids())
    assert len(plan.node_ids()) <= 2 * 64 + 1
    assert NodeID(0, 0) == (0, 0)


# ------------------------------------------------------------- 3. tamper properties


TAMPER_SIZES = [*range(1, 18), 31, 32, 33]
_TAMPER_ENTRIES = entries_for(max(TAMPER_SIZES), b"tamper")
_TAMPER_STORE = build(_TAMPER_ENTRIES, batch=5)
_TAMPER_REF = Reference(_TAMPER_ENTRIES)


@pytest.mark.parametrize("size", TAMPER_SIZES)
def test_every_flipped_byte_of_an_inclusion_proof_fails(size: int) -> None:
    get, root = _TAMPER_STORE.getter(size), _TAMPER_REF.root(size)
    for index in range(size):
        leaf = leaf_hash(_TAMPER_ENTRIES[index])
        proof = inclusion_proof(index, size, get)
        for bad in flipped_proofs(proof):
            assert not verify_inclusion(leaf, index, size, bad, root)
        for position in range(32):
            assert not verify_inclusion(flip(leaf, position, 0x01), index, size, proof, root)
            assert not verify_inclusion(leaf, index, size, proof, flip(root, position, 0x01))
        # Wrong length: one element too many or too few.
        assert not verify_inclusion(leaf, index, size, [*proof, root], root)
        if proof:
            assert not verify_inclusion(leaf, index, size, proof[:-1], root)


@pytest.mark.parametrize("size", TAMPER_SIZES)
def test_every_flipped_byte_of_a_consistency_proof_fails(size: int) -> None:
    get, root2 = _TAMPER_STORE.getter(size), _TAMPER_REF.root(size)
    for size1 in range(1, size + 1):
        root1 = _TAMPER_REF.root(size1)
        proof = consistency_proof(size1, size, get)
        for bad in flipped_proofs(proof):
            assert not verify_consistency(size1, size, root1, root2, bad)
        for position in range(32):
            assert not verify_consistency(size1, size, flip(root1, position, 1), root2, proof)
            assert not verify_consistency(size1, size, root1, flip(root2, position, 1), proof)
        assert not verify_consistency(size1, size, root1, root2, [*proof, root1])
        if proof:
            assert not verify_consistency(size1, size, root1, root2, proof[:-1])


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=2000))
def test_tampered_inclusion_fails(data: st.DataObject, size: int) -> None:
    entries = entries_for(2 * size + 1, b"t")  # the tree of `size` is a prefix
    ref = Reference(entries)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = ref.inclusion(index, size)
    leaf, root = leaf_hash(entries[index]), ref.root(size)
    assert verify_inclusion(leaf, index, size, proof, root)

    mask = data.draw(st.integers(1, 255), label="mask")
    position = data.draw(st.integers(0, 31), label="byte")
    target = data.draw(st.integers(-2, len(proof) - 1), label="target")  # -2 leaf, -1 root
    if target == -2:
        assert not verify_inclusion(flip(leaf, position, mask), index, size, proof, root)
    elif target == -1:
        assert not verify_inclusion(leaf, index, size, proof, flip(root, position, mask))
    else:
        bad = list(proof)
        bad[target] = flip(bad[target], position, mask)
        assert not verify_inclusion(leaf, index, size, bad, root)

    # Another index, or another size with that size's true root, fails, unless the
    # same hashes happen to be the genuine proof for it.
    other_index = data.draw(st.integers(0, 2 * size), label="other index")
    if other_index != index:
        assert not verify_inclusion(leaf, other_index, size, proof, root)
    other_size = data.draw(st.integers(1, 2 * size + 1), label="other size")
    if other_size != size and not (
        index < other_size and ref.inclusion(index, other_size) == proof
    ):
        assert not verify_inclusion(leaf, index, other_size, proof, ref.root(other_size))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), size=st.integers(min_value=2, max_value=2000))
def test_tampered_consistency_fails(data: st.DataObject, size: int) -> None:
    entries = entries_for(size, b"c")
    ref = Reference(entries)
    size1 = data.draw(st.integers(1, size - 1), label="size1")
    proof = ref.consistency(size1, size)
    root1, root2 = ref.root(size1), ref.root(size)
    assert verify_consistency(size1, size, root1, root2, proof)

    mask = data.draw(st.integers(1, 255), label="mask")
    position = data.draw(st.integers(0, 31), label="byte")
    target = data.draw(st.integers(-2, len(proof) - 1), label="target")  # -2 root1, -1 root2
    if target == -2:
        assert not verify_consistency(size1, size, flip(root1, position, mask), root2, proof)
    elif target == -1:
        assert not verify_consistency(size1, size, root1, flip(root2, position, mask), proof)
    else:
        bad = list(proof)
        bad[target] = flip(bad[target], position, mask)
        assert not verify_consistency(size1, size, root1, root2, bad)

    # Other sizes, each with its true root, fail unless the hashes are genuinely its proof.
    other1 = data.draw(st.integers(0, size), label="other size1")
    other2 = data.draw(st.integers(other1, size), label="other size2")
    if (other1, other2) != (size1, size) and ref.consistency(other1, other2) != proof:
        assert not verify_consistency(other1, other2, ref.root(other1), ref.root(other2), proof)


def test_trivial_consistency_cases() -> None:
    ref = Reference(entries_for(5))
    r5 = ref.root(5)
    assert verify_consistency(5, 5, r5, r5, [])
    assert not verify_consistency(5, 5, r5, ref.root(4), [])
    assert not verify_consistency(5, 5, r5, r5, [r5])
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 5, r5, r5, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [r5])
    assert not verify_consistency(4, 3, ref.root(4), ref.root(3), [])
    assert not verify_consistency(3, 5, ref.root(3), r5, [])  # RFC step 1


def test_malformed_arguments_raise() -> None:
    root = leaf_hash(b"x")
    with pytest.raises(ProofError):
        verify_inclusion(b"short", 0, 1, [], root)
    with pytest.raises(ProofError):
        verify_inclusion(root, 0, 2, [b"\x00" * 33], root)
    with pytest.raises(ProofError):
        verify_inclusion(root, -1, 2, [], root)
    with pytest.raises(ProofError):
        verify_consistency(1, 2, root, b"", [root])
    with pytest.raises(ProofError):
        verify_consistency(1, 2, root, root, ["not bytes"])  # type: ignore[list-item]
    # A request the RFC answers with "fail" is False, not an exception.
    assert not verify_inclusion(root, 1, 1, [], root)
    assert not verify_inclusion(root, 0, 1, [root], root)
    assert merkle.ProofError.code == "audit.invalid_proof"
