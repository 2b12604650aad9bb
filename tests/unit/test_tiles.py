"""Tile paths and coordinates of c2sp.org/tlog-tiles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain.tiles import (
    TILE_WIDTH,
    Tile,
    TileNotFound,
    TilePathError,
    bundle,
    check_available,
    encode_index,
    parse_tile_path,
)


def test_the_spec_example_index() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert parse_tile_path("1/x001/x234/067.p/8") == Tile(1, 1234067, 8)
    assert parse_tile_path("entries/000") == Tile(None, 0, TILE_WIDTH)


@given(
    level=st.one_of(st.none(), st.integers(0, 3)),
    index=st.integers(0, 10**9),
    width=st.integers(1, TILE_WIDTH),
)
def test_paths_round_trip(level: int | None, index: int, width: int) -> None:
    tile = Tile(level, index, width)
    assert parse_tile_path(tile.path()) == tile


@pytest.mark.parametrize(
    "path",
    [
        "0",
        "0/1",
        "0/0067",
        "00/000",
        "64/000",
        "0/x000/067",
        "0/067.p/0",
        "0/067.p/256",
        "0/067.p/08",
        "0/067.p",
        "0/67",
        "tiles/000",
        "0/x1/067",
        "0/067/x001",
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(TilePathError):
        parse_tile_path(path)


@given(level=st.integers(0, 3), index=st.integers(0, 1000), width=st.integers(1, TILE_WIDTH))
def test_a_tile_is_served_only_under_a_checkpoint_that_covers_it(
    level: int, index: int, width: int
) -> None:
    tile = Tile(level, index, width)
    stop = (index * TILE_WIDTH + width) * TILE_WIDTH**level
    assert tile.leaves().stop == stop
    check_available(tile, stop)
    with pytest.raises(TileNotFound):
        check_available(tile, stop - 1)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_bundles_are_length_prefixed(entries: list[bytes]) -> None:
    data, out = bundle(entries), []
    while data:
        size = int.from_bytes(data[:2], "big")
        out.append(data[2 : 2 + size])
        data = data[2 + size :]
    assert out == entries
