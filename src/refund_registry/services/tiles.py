"""The access log served as C2SP tiles: hash tiles and entry bundles of the latest checkpoint.

A tile is served only when the latest checkpoint covers it in full, so every
byte served is under a signed root; stored nodes and leaves never change, so a
full tile never changes either. The rules are in :mod:`refund_registry.domain.tiles`.
"""

from __future__ import annotations

from refund_registry.domain import merkle
from refund_registry.domain.tiles import Tile, TileNotFound, bundle, check_available
from refund_registry.services.audit import require_checkpoint
from refund_registry.storage import tree
from refund_registry.storage.tree import Reader


async def tile_bytes(db: Reader, tile: Tile) -> bytes:
    """The bytes of ``tile``: concatenated hashes, or for ``entries`` a bundle (404 if absent)."""
    latest = await require_checkpoint(db)
    check_available(tile, latest.size)
    if tile.level is None:
        span = tile.leaves()
        entries = await tree.entries_between(db, span.start, span.stop)
        if len(entries) != tile.width:
            raise TileNotFound(f"tile {tile.path()} is not complete in the store")
        return bundle(entries)
    ids = tile.node_ids()
    found = await tree.fetch_nodes(db, ids)
    hashes = [found.get((n.level, n.index)) for n in ids]
    if any(h is None or len(h) != merkle.HASH_SIZE for h in hashes):
        raise TileNotFound(f"tile {tile.path()} is not complete in the store")
    return b"".join(h for h in hashes if h is not None)
