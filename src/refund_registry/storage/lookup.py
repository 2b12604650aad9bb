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
_Call = tuple[list[bytes], asyncio.Future[dict[bytes, Row]]]
"""The keys one caller asked for, and its future: one future per call, not per key."""


class SubjectLookup:
    def __init__(self, pool: asyncpg.Pool, *, max_keys: int = 20_000) -> None:
        self.pool = pool
        self.max_keys = max_keys
        self._pending: list[_Call] = []
        self._scheduled = False
        self.round_trips = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def get_many(self, keys: Iterable[bytes]) -> dict[bytes, Row | None]:
        """The row of each key (``None``: nothing held), from this tick's shared look-up."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        future: asyncio.Future[dict[bytes, Row]] = asyncio.get_running_loop().create_future()
        self._pending.append((wanted, future))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        found = await future
        return {key: found.get(key) for key in wanted}

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        loop = asyncio.get_running_loop()
        # Fetches of at most ``max_keys`` keys (or one caller's, if it asked for more).
        chunk: list[_Call] = []
        size = 0
        for call in pending:
            if chunk and size + len(call[0]) > self.max_keys:
                self._start(loop, chunk)
                chunk, size = [], 0
            chunk.append(call)
            size += len(call[0])
        if chunk:
            self._start(loop, chunk)

    def _start(self, loop: asyncio.AbstractEventLoop, calls: list[_Call]) -> None:
        task = loop.create_task(self._fetch(calls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, calls: list[_Call]) -> None:
        self.round_trips += 1
        keys = list(dict.fromkeys(key for wanted, _ in calls for key in wanted))
        try:
            async with translated():
                rows = await self.pool.fetch(Q["lookup_subjects"], keys)
        except Exception as exc:  # every waiter must hear of it
            for _, future in calls:
                if not future.done():
                    future.set_exception(exc)
            return
        found = {bytes(row["subject_key"]): dict(row) for row in rows}
        for _, future in calls:
            if not future.done():
                future.set_result(found)
