"""The access log as C2SP tiles (c2sp.org/tlog-tiles): tile paths, coordinates, entry bundles.

A tile at level ``L``, index ``N`` holds up to 256 consecutive hashes of the
Merkle level ``8·L``: at level 0 the leaf hashes, above it the roots of full
tiles below. Hash ``i`` of tile (L, N) is the complete subtree
``(8·L, N·256 + i)``, which is exactly a node the sequencer stores, so serving
a tile is one read of ``log_nodes``. A *partial* tile ``.p/W`` holds the first
``W`` (1 to 255) hashes. Entry bundles are the level-0 tiles' entries, each
prefixed by its length as a big-endian uint16.

Tile indices are written in 3-digit groups, all but the last prefixed with
``x``: index 1234067 is ``x001/x234/067``. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from refund_registry.domain.merkle import MAX_SIZE, NodeID
from refund_registry.errors import InvalidInput, NotFound

TILE_WIDTH = 256
TILE_HEIGHT = 8
MAX_LEVEL = 63
MAX_ENTRY_BYTES = 0xFFFF

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")
_GROUP = re.compile(r"x[0-9]{3}")
_LAST = re.compile(r"[0-9]{3}")


class TilePathError(InvalidInput):
    code = "audit.tile_path"
    title = "Not a tile path"
    status = 400


class TileNotFound(NotFound):
    code = "audit.tile_not_found"
    title = "No such tile in the latest checkpoint"


@dataclass(frozen=True, slots=True)
class Tile:
    """Tile ``index`` of ``level`` (``None``: the entry bundle), ``width`` hashes wide."""

    level: int | None
    index: int
    width: int

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def merkle_level(self) -> int:
        return TILE_HEIGHT * (self.level or 0)

    def node_ids(self) -> list[NodeID]:
        """The stored subtrees this tile's hashes are, left to right."""
        first = self.index * TILE_WIDTH
        return [NodeID(self.merkle_level, first + i) for i in range(self.width)]

    def leaves(self) -> range:
        """The leaf indices this tile (or bundle) covers."""
        span = TILE_WIDTH ** (self.level or 0)
        first = self.index * TILE_WIDTH * span
        return range(first, first + self.width * span)

    def path(self) -> str:
        """The path of this tile below ``<prefix>/tile/``."""
        head = "entries" if self.level is None else str(self.level)
        suffix = f".p/{self.width}" if self.partial else ""
        return f"{head}/{encode_index(self.index)}{suffix}"


def encode_index(index: int) -> str:
    """``1234067`` → ``x001/x234/067``."""
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def parse_tile_path(path: str) -> Tile:
    """Parse ``<L or entries>/<N>[.p/<W>]``; anything else is a :class:`TilePathError`."""
    parts = path.strip("/").split("/")
    if len(parts) < 2:
        raise TilePathError(f"{path!r} is not <level>/<index>[.p/<width>]")
    head, rest = parts[0], parts[1:]
    if head == "entries":
        level: int | None = None
    elif _LEVEL.fullmatch(head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise TilePathError(f"the tile level {head!r} is not 0 to 63 (or 'entries')")
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        if not _WIDTH.fullmatch(rest[-1]) or not 1 <= int(rest[-1]) < TILE_WIDTH:
            raise TilePathError(f"the partial width {rest[-1]!r} is not 1 to 255")
        width = int(rest[-1])
        rest = [*rest[:-2], rest[-2].removesuffix(".p")]
    if not rest or not _LAST.fullmatch(rest[-1]) or not all(_GROUP.fullmatch(g) for g in rest[:-1]):
        raise TilePathError(f"the tile index in {path!r} is not in x000/…/000 groups")
    index = int("".join(g.removeprefix("x") for g in rest))
    if len(rest) > 1 and rest[0] == "x000":
        raise TilePathError("a tile index has no leading zero groups")
    tile = Tile(level, index, width)
    if tile.leaves().stop > MAX_SIZE:
        raise TilePathError("the tile lies beyond any tree size")
    return tile


def check_available(tile: Tile, size: int) -> None:
    """Refuse a tile the checkpoint of ``size`` leaves does not hold in full (404)."""
    if tile.leaves().stop > size:
        raise TileNotFound(
            f"tile {tile.path()} needs {tile.leaves().stop} leaves; "
            f"the latest checkpoint has {size}"
        )


def bundle(entries: list[bytes]) -> bytes:
    """An entry bundle: each entry as a big-endian uint16 length and its bytes."""
    out = bytearray()
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileNotFound("an entry of this bundle is too long for a uint16 length")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)
