"""The ``used_jtis`` table: the replay record shared by every API process while Redis is down.

The ``database`` fallback of the replay guard (``storage/cache.py``) claims a
token's ``iss:jti`` here with ``INSERT … ON CONFLICT DO NOTHING`` (accepted iff
a row was inserted), every claim of one event-loop tick in one statement; a
worker duty deletes the rows of expired tokens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from refund_registry.storage.queries import Q


class DatabaseSeen:
    """``used_jtis`` rows: one ``INSERT … ON CONFLICT DO NOTHING`` per event-loop tick."""

    def __init__(self, pool: asyncpg.Pool, clock: Callable[[], float] = time.time) -> None:
        self.pool = pool
        self._clock = clock
        self._pending: list[tuple[str, datetime, asyncio.Future[bool]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.statements = 0

    def add(self, key: str, ttl: int) -> asyncio.Future[bool]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        expires = datetime.fromtimestamp(self._clock(), UTC) + timedelta(seconds=max(ttl, 1))
        self._pending.append((key, expires, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[str, datetime, asyncio.Future[bool]]]) -> None:
        self.statements += 1
        try:
            rows = await claim_used_jtis(
                self.pool, [k for k, _, _ in batch], [e for _, e, _ in batch]
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        inserted = set(rows)
        for key, _, future in batch:
            # A key twice in one statement is inserted once: only its first claim wins.
            fresh = key in inserted
            inserted.discard(key)
            if not future.done():
                future.set_result(fresh)


async def claim_used_jtis(
    pool: asyncpg.Pool, keys: list[str], expires: list[datetime]
) -> list[str]:
    """Insert ``keys`` into ``used_jtis``; return those that were not there already."""
    rows = await pool.fetch(Q["used_jtis_claim"], keys, expires)
    return [row["key"] for row in rows]


async def prune_used_jtis(pool: asyncpg.Pool, moment: datetime) -> int:
    """Delete the ``used_jtis`` rows whose tokens expired by ``moment``; return how many."""
    status: str = await pool.execute(Q["used_jtis_prune"], moment)
    return int(status.rsplit(" ", 1)[-1])
