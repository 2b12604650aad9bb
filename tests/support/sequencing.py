"""Sequencing every logged entry, for tests that read the tree or a checkpoint next."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.services.sequencer import sequence_once

WAITING = (
    "SELECT count(*) FROM access_log a"
    " WHERE NOT EXISTS (SELECT 1 FROM log_leaves l WHERE l.entry_id = a.id)"
)


async def sequence_all(
    pool: asyncpg.Pool, log_key: ed25519.Ed25519PrivateKey, **options: Any
) -> int:
    """Sequencing passes, each checkpointing what it sequenced, until every entry is in.

    The sequencer reads only entries below the snapshot's xmin, which any
    transaction open anywhere in the (shared) test cluster holds back, so one
    pass may leave the latest entries for the next. Gives up after 10 s.
    """
    total = 0
    waiting = 0
    for _ in range(200):
        total += await sequence_once(pool, log_key, force_checkpoint=True, **options)
        waiting = await pool.fetchval(WAITING)
        if waiting == 0:
            return total
        await asyncio.sleep(0.05)
    raise AssertionError(f"{waiting} entries still unsequenced after 10 s")
