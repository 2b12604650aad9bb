"""The access log's pure read and sequencing rules: sizes, leaves, pages, checkpoints due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import merkle
from refund_registry.domain.audit_views import (
    MAX_PAGE,
    EntryFilter,
    check_consistency_sizes,
    check_leaf,
    check_page,
    check_size,
    day_window,
    entry_page,
    member_days,
    purposes_by_member,
)
from refund_registry.domain.sequencing import (
    SequencerError,
    check_extends,
    checkpoint_due,
    checkpoint_surely_not_due,
    frontier_from,
    leaves_for,
)
from refund_registry.errors import InvalidInput, NotFound

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def test_a_leaf_is_proved_only_inside_the_tree() -> None:
    assert check_leaf(True, 3, 4) == 3
    for logged, index, code in [
        (False, None, "audit.leaf_not_found"),
        (True, None, "audit.leaf_not_sequenced"),
        (True, 4, "audit.leaf_not_in_tree"),
    ]:
        with pytest.raises(NotFound) as refused:
            check_leaf(logged, index, 4)
        assert refused.value.code == code


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_consistency_sizes_must_grow_up_to_the_checkpoint(
    first: int, second: int, pub: int
) -> None:
    legal = first <= second <= pub
    try:
        check_consistency_sizes(first, second, pub)
    except InvalidInput:
        assert not legal
    else:
        assert legal


def test_tree_sizes_and_pages_are_bounded() -> None:
    check_size(1, 1, "tree_size", minimum=1)
    with pytest.raises(InvalidInput) as refused:
        check_size(0, 5, "tree_size", minimum=1)
    assert refused.value.code == "audit.tree_size"
    check_page(MAX_PAGE, EntryFilter())
    with pytest.raises(InvalidInput):
        check_page(MAX_PAGE + 1, EntryFilter())
    with pytest.raises(InvalidInput) as refused:
        check_page(10, EntryFilter(since=T0, until=T0))
    assert refused.value.code == "audit.time_range"


def test_only_a_full_page_names_the_next_cursor() -> None:
    rows = [(i, b"not json", bytes(32)) for i in (4, 7)]
    assert entry_page(rows, 2)["next_after"] == 7
    assert entry_page(rows, 3)["next_after"] is None
    assert [e["index"] for e in entry_page(rows, 3)["entries"]] == [4, 7]


def test_summary_inputs_are_assembled_per_member() -> None:
    assert day_window(date(2025, 3, 1)) == (T0 - timedelta(hours=12), T0 + timedelta(hours=12))
    purposes = purposes_by_member([("m1", None, 2), ("m1", "refund_decision", 3), ("m2", "", 1)])
    assert purposes == {"m1": {"unstated": 2, "refund_decision": 3}, "m2": {"unstated": 1}}
    days = member_days(purposes, {"m1": (4, 1)}, {"m2": 9})
    assert [
        (d.member, d.distinct_subjects, d.one_off_subjects, d.trailing_queries) for d in days
    ] == [
        ("m1", 4, 1, 0),
        ("m2", 0, 0, 9),
    ]


def _stored(count: int) -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    entries = [f"entry {i}".encode() for i in range(count)]
    _, nodes = merkle.Frontier(0, ()).append([merkle.leaf_hash(e) for e in entries])
    return entries, {(n[0], n[1]): n[2] for n in nodes}


def test_leaves_are_checked_against_their_receipts() -> None:
    entries, _ = _stored(3)
    pending = [(10 + i, 99, e, merkle.leaf_hash(e)) for i, e in enumerate(entries)]
    hashes, leaves = leaves_for(5, pending)
    assert [leaf[0] for leaf in leaves] == [5, 6, 7]
    assert hashes == [p[3] for p in pending]
    tampered = [*pending[:2], (12, 99, b"altered", pending[2][3])]
    with pytest.raises(SequencerError):
        leaves_for(5, tampered)


def test_stored_nodes_must_reproduce_the_signed_root() -> None:
    _, found = _stored(7)
    frontier = frontier_from(7, found)
    check_extends(7, frontier.root(), found)
    with pytest.raises(SequencerError):
        check_extends(7, bytes(32), found)
    with pytest.raises(SequencerError):
        frontier_from(8, found)


def test_a_checkpoint_is_due_only_for_a_grown_tree_after_the_interval() -> None:
    later = T0 + timedelta(seconds=10)
    assert checkpoint_due(5, 4, T0, later, interval=10, force=False)
    assert not checkpoint_due(5, 4, T0, later - timedelta(seconds=1), interval=10, force=False)
    assert checkpoint_due(5, 4, T0, T0, interval=10, force=True)
    assert not checkpoint_due(4, 4, T0, later, interval=10, force=True)
    with pytest.raises(SequencerError):
        checkpoint_due(3, 4, T0, later, interval=10, force=True)
    assert checkpoint_surely_not_due(4, 4, T0, later, interval=10, force=True)
    assert not checkpoint_surely_not_due(None, 4, T0, T0, interval=10, force=True)
    assert checkpoint_surely_not_due(None, 4, T0, T0, interval=10, force=False)
