"""Subject look-ups for the risk query, micro-batched.

Every key asked for in one event-loop tick is fetched with one
``WHERE subject_key = ANY($1)``: a round trip costs more client CPU than the
rest of the request, so concurrent queries share it. There is deliberately
no cache in front of it (see docs/architecture.md): each look-up reads the
committed state, so an answer never predates a write that was acknowledged
before the query arrived, in any process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import asyncpg

from refund_registry.storage.db import translated
from refund_registry.storage.queries import Q

Row = dict[str, Any]


class SubjectLookup:
    def __init__(self, pool: asyncpg.Pool, *, max_keys: int = 20_000) -> None:
        self.pool = pool
        self.max_keys = max_keys
        self._pending: dict[bytes, list[asyncio.Future[Row | None]]] = {}
        self._scheduled = False
        self.round_trips = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def get_many(self, keys: Iterable[bytes]) -> dict[bytes, Row | None]:
        loop = asyncio.get_running_loop()
        futures: dict[bytes, asyncio.Future[Row | None]] = {}
        for key in keys:
            if key in futures:
                continue
            future: asyncio.Future[Row | None] = loop.create_future()
            self._pending.setdefault(key, []).append(future)
            futures[key] = future
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return {key: await future for key, future in futures.items()}

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        keys = list(pending)
        loop = asyncio.get_running_loop()
        for start in range(0, len(keys), self.max_keys):
            chunk = {k: pending[k] for k in keys[start : start + self.max_keys]}
            task = loop.create_task(self._fetch(chunk))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch(self, chunk: dict[bytes, list[asyncio.Future[Row | None]]]) -> None:
        self.round_trips += 1
        try:
            async with translated():
                rows = await self.pool.fetch(Q["lookup_subjects"], list(chunk))
        except Exception as exc:  # every waiter must hear of it
            for futures in chunk.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        found = {bytes(row["subject_key"]): dict(row) for row in rows}
        for key, futures in chunk.items():
            for future in futures:
                if not future.done():
                    future.set_result(found.get(key))
