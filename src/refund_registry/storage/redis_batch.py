"""Sharing Redis round trips among concurrent requests.

Each request of a signed route needs two answers from Redis: its token's
single-use claim and its organisation's rate limit. Sent one command per
request, the client's work (packing each command, parsing each reply, one
timeout per reply) costs more CPU than the rest of the request's Redis path
together, and Redis executes one command per request.

Two levels share the work:

* :class:`RedisBatcher` sends every command submitted during one event-loop
  tick in one pipeline (one write, one read).
* :class:`ScriptGroups` goes further for the two scripts every request runs:
  the calls of one tick that share their *group* (the same keys, such as one
  organisation's rate-limit windows, or the replay store's epoch) become **one**
  ``EVALSHA`` whose script handles the items in arrival order, exactly as the
  same calls made one after another would. Each caller gets its own part of
  the reply. On a Valkey Cluster a group's keys must share a hash slot; the
  callers choose groups so that they do.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from refund_registry.storage.redis_client import RedisClient


class RedisBatcher:
    """Sends every command submitted during one event-loop tick in one pipeline.

    Callers await their own reply; a command that Redis answers with an error
    raises for its caller only, and a connection failure raises for all.
    """

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._once: dict[str, asyncio.Future[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.round_trips = 0
        self.commands = 0

    async def call(self, *args: Any) -> Any:
        return await self.submit(*args)

    def submit(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command for this tick's pipeline; its future holds the reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def submit_once(self, name: str, *args: Any) -> asyncio.Future[Any]:
        """Like :meth:`submit`, but one command per ``name`` and pipeline: callers share it."""
        future = self._once.get(name)
        if future is None:
            future = self._once[name] = self.submit(*args)
        return future

    def _flush(self) -> None:
        batch, self._pending, self._scheduled = self._pending, [], False
        self._once = {}
        if batch:
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        self.round_trips += 1
        self.commands += len(batch)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for args, _ in batch:
                    pipe.execute_command(*args)
                results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # every waiter must hear of it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


_Group = tuple[tuple[str, ...], tuple[Any, ...]]
"""A group's keys and arguments: the calls of one tick with the same group share one call."""


class ScriptGroups:
    """One ``EVALSHA`` per group and event-loop tick, for the calls of one Lua script.

    The script receives ``KEYS = group keys ++ every item's keys`` and
    ``ARGV = group args ++ every item's args``, items in arrival order, and
    returns integers as one string, separated by spaces (one bulk reply parses
    in one step; an array would cost the client a parse per element):
    ``head`` values for the whole group, then ``width`` values per item. A
    caller's future holds ``(head values, its item's values)``.
    A Redis that lost the script (restarted, failed over) answers
    ``NOSCRIPT``; the group is sent again after ``SCRIPT LOAD``, once.
    """

    def __init__(
        self, redis: RedisClient, batcher: RedisBatcher, script: str, *, head: int, width: int
    ) -> None:
        self.redis = redis
        self.batcher = batcher
        self.script = script
        self.sha = hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
        self.head = head
        self.width = width
        self._groups: dict[_Group, list[tuple[Sequence[Any], Sequence[Any], Any]]] = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls = 0

    def call(
        self,
        keys: Sequence[str],
        args: Sequence[Any],
        item_keys: Sequence[str] = (),
        item_args: Sequence[Any] = (),
    ) -> asyncio.Future[tuple[list[int], list[int]]]:
        """Queue one item of the group ``(keys, args)``; the future holds its reply."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[list[int], list[int]]] = loop.create_future()
        group = (tuple(keys), tuple(args))
        self._groups.setdefault(group, []).append((item_keys, item_args, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        groups, self._groups, self._scheduled = self._groups, {}, False
        loop = asyncio.get_running_loop()
        for group, items in groups.items():
            task = loop.create_task(self._send(group, items))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(
        self, group: _Group, items: list[tuple[Sequence[Any], Sequence[Any], Any]]
    ) -> None:
        keys, args = [*group[0]], [*group[1]]
        for item_keys, item_args, _ in items:
            keys.extend(item_keys)
            args.extend(item_args)
        self.calls += 1
        try:
            try:
                reply = await self.batcher.submit("EVALSHA", self.sha, len(keys), *keys, *args)
            except NoScriptError:
                await self.redis.script_load(self.script)
                reply = await self.batcher.submit("EVALSHA", self.sha, len(keys), *keys, *args)
        except Exception as exc:  # every waiter must hear of it
            for _, _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        values = [int(v) for v in reply.split()]
        shared = values[: self.head]
        for i, (_, _, future) in enumerate(items):
            if not future.done():
                at = self.head + i * self.width
                future.set_result((shared, values[at : at + self.width]))
