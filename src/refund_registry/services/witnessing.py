"""The witness collector: submits every new checkpoint to the configured witnesses.

After the sequencer signs a checkpoint, the collector (a background task next
to it, in every API and worker process; one of them holds its advisory lock)
sends it to each witness of ``REGISTRY_WITNESSES`` with the consistency proof
from the size that witness holds (c2sp.org/tlog-witness ``add-checkpoint``):

* the size a witness holds is the largest checkpoint it cosigned here, else 0;
  a 409 names the size it really holds, and the submission is retried at once
  from there (a witness that restarted from a backup, or was fed by another
  process);
* a 200 answer is checked under the witness's key before it is stored in
  ``checkpoint_cosignatures``; anything else (a refusal, a timeout, a wrong
  line) counts as a failure and the witness is asked again after a back-off
  that doubles up to five minutes (:func:`~refund_registry.domain.witnessing.retry_delay`);
* witnesses are asked concurrently, each with a timeout, and nothing here
  holds a transaction or a lock the sequencer needs: a slow or absent witness
  delays its own cosignature, never the log.

A 422 from a witness means it holds a tree that this log's tree does not
extend: that is evidence of a fork and is logged as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from refund_registry.domain.checkpoint import CheckpointError
from refund_registry.domain.checkpoint.cosignature import signature_lines, verify_cosignature_line
from refund_registry.domain.witnessing import (
    ConfiguredWitness,
    parse_size_answer,
    request_body,
    retry_delay,
)
from refund_registry.errors import InvalidInput, NotFound, RegistryError
from refund_registry.services.audit import consistency_proof, require_checkpoint
from refund_registry.storage import cosignatures, tree
from refund_registry.storage.conn import Conn
from refund_registry.storage.tree import StoredCheckpoint

log = logging.getLogger("refund_registry.witnessing")

REQUEST_TIMEOUT = 10.0
_MAX_CONFLICTS = 2


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Known:
    """What the collector believes of one witness; a cache, corrected by every 409."""

    held: int | None = None  # the size the witness holds
    cosigned: int | None = None  # the largest size it cosigned for us
    failures: int = 0
    next_try: float = 0.0


class _Failure(Exception):
    pass


class Collector:
    """Collects cosignatures for the latest checkpoint from every configured witness."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        witnesses: Sequence[ConfiguredWitness],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.witnesses = tuple(witnesses)
        self.transport = transport
        self.clock = clock
        self.monotonic = monotonic
        self.known = {w.name: _Known() for w in self.witnesses}
        self._loaded = False

    async def collect_once(self) -> dict[str, str]:
        """One round: submit the latest checkpoint where due; what happened, per witness."""
        latest = await tree.latest_checkpoint(self.pool)
        if latest is None or not self.witnesses:
            return {}
        if not self._loaded:
            sizes = await cosignatures.witness_sizes(self.pool, [w.name for w in self.witnesses])
            for name, size in sizes.items():
                self.known[name].held = self.known[name].cosigned = size
            self._loaded = True
        async with httpx.AsyncClient(transport=self.transport, timeout=REQUEST_TIMEOUT) as client:
            outcomes = await asyncio.gather(*(self._one(client, w, latest) for w in self.witnesses))
        return dict(zip((w.name for w in self.witnesses), outcomes, strict=True))

    async def _one(
        self, client: httpx.AsyncClient, witness: ConfiguredWitness, latest: StoredCheckpoint
    ) -> str:
        known = self.known[witness.name]
        if known.cosigned == latest.size:
            return "current"
        if self.monotonic() < known.next_try:
            return "waiting"
        try:
            await self._submit(client, witness, latest, known)
        except (_Failure, httpx.HTTPError, RegistryError) as exc:
            known.failures += 1
            known.next_try = self.monotonic() + retry_delay(known.failures)
            log.warning(
                "witness submission failed",
                extra={"witness": witness.name, "size": latest.size, "why": str(exc)},
            )
            return f"failed: {exc}"
        known.failures, known.next_try = 0, 0.0
        return "cosigned"

    async def _submit(
        self,
        client: httpx.AsyncClient,
        witness: ConfiguredWitness,
        latest: StoredCheckpoint,
        known: _Known,
    ) -> None:
        for _ in range(_MAX_CONFLICTS + 1):
            old = known.held or 0
            if old > latest.size:
                raise _Failure(f"the witness holds size {old}, beyond this log's {latest.size}")
            proof = (await consistency_proof(self.pool, old, latest.size)).hashes if old else []
            answer = await client.post(
                f"{witness.url}/add-checkpoint", content=request_body(old, proof, latest.note)
            )
            if answer.status_code == 409:
                size = parse_size_answer(answer.text)
                if size is None:
                    raise _Failure("a 409 without a tree size")
                known.held = size
                continue
            if answer.status_code == 422:
                log.error(
                    "a witness holds a tree this log does not extend (a fork?)",
                    extra={"witness": witness.name, "held": old, "size": latest.size},
                )
            if answer.status_code != 200:
                raise _Failure(f"answered {answer.status_code}: {answer.text[:200]}")
            await self._store(witness, latest, answer.text)
            known.held = known.cosigned = latest.size
            return
        raise _Failure("the witness's size kept changing")

    async def _store(self, witness: ConfiguredWitness, latest: StoredCheckpoint, text: str) -> None:
        body, _ = signature_lines(latest.note)
        for line in text.splitlines():
            try:
                cosig = verify_cosignature_line(body, line, witness.key)
            except CheckpointError as exc:
                raise _Failure(f"a bad cosignature: {exc.detail}") from exc
            if cosig is not None:
                await cosignatures.insert(
                    self.pool,
                    size=latest.size,
                    witness=witness.name,
                    line=cosig.line,
                    cosigned_at=datetime.fromtimestamp(cosig.timestamp, UTC),
                    received_at=self.clock(),
                )
                return
        raise _Failure("no cosignature by the witness's key in its answer")


async def run_collector(
    pool: asyncpg.Pool,
    witnesses: Sequence[ConfiguredWitness],
    *,
    stop: asyncio.Event,
    interval: float = 1.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Collect every ``interval`` seconds while this process holds the collector's lock.

    Every process runs one; the others stand by. Returns once ``stop`` is set.
    Failures are logged and retried; the task never dies of one.
    """
    if not witnesses:
        return
    collector = Collector(pool, witnesses, transport=transport)
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                if await cosignatures.try_lock(conn):
                    try:
                        while not stop.is_set():
                            await collector.collect_once()
                            await _sleep(stop, interval)
                    finally:
                        await _release(conn)
        except Exception as exc:  # a background duty must outlive any one failure
            log.warning("witness collector failed; retrying", exc_info=exc)
        await _sleep(stop, interval)


async def _release(conn: Conn) -> None:
    try:
        await asyncio.wait_for(cosignatures.unlock(conn), timeout=5)
    except asyncio.CancelledError:
        conn.terminate()
        raise
    except Exception:
        conn.terminate()  # a lock left on a pooled connection would block every standby


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


# --------------------------------------------------------------------------- reads


async def witnessed_note(
    pool: asyncpg.Pool, witnesses: Sequence[ConfiguredWitness], quorum: int
) -> str:
    """The latest checkpoint with ``quorum`` cosignatures, the cosignature lines appended.

    ``quorum`` 0 is the latest checkpoint as it is. More than the configured
    witnesses is a 422 ``audit.witnessed``; no checkpoint with that many yet a
    404 ``audit.no_witnessed_checkpoint``.
    """
    if quorum > len(witnesses):
        raise InvalidInput(
            f"witnessed={quorum} is more than the {len(witnesses)} configured witnesses",
            code="audit.witnessed",
        )
    if quorum == 0:
        return (await require_checkpoint(pool)).note
    found = await cosignatures.latest_witnessed(pool, [w.name for w in witnesses], quorum)
    if found is None:
        raise NotFound(
            f"no checkpoint has {quorum} cosignatures yet", code="audit.no_witnessed_checkpoint"
        )
    return found.note + "".join(found.lines)


async def witness_status(
    pool: asyncpg.Pool, witnesses: Sequence[ConfiguredWitness], quorum: int
) -> dict[str, Any]:
    """The registry's witness policy and, per witness, the largest checkpoint it cosigned."""
    sizes = await cosignatures.witness_sizes(pool, [w.name for w in witnesses])
    latest = await tree.latest_checkpoint(pool)
    return {
        "quorum": quorum,
        "latest_size": None if latest is None else latest.size,
        "witnesses": [
            {"name": w.name, "url": w.url, "key": str(w.key), "cosigned_size": sizes.get(w.name)}
            for w in witnesses
        ],
    }


@dataclass(frozen=True, slots=True)
class WitnessRow:
    """One configured witness as the auditor's console shows it."""

    name: str
    url: str
    key: str
    cosigned_size: int | None  # the largest checkpoint it cosigned (None: none yet)
    behind: int | None  # entries between that and the latest checkpoint (None: no checkpoint)
    cosigned_at: datetime | None  # the time in its latest cosignature line
    received_at: datetime | None  # when the registry received that line


@dataclass(frozen=True, slots=True)
class WitnessOverview:
    """The witness policy (``quorum`` of the configured witnesses) and where each stands."""

    quorum: int
    witnesses: tuple[WitnessRow, ...]
    latest_size: int | None
    latest_at: datetime | None
    witnessed: cosignatures.WitnessedCheckpoint | None  # the latest with ``quorum`` cosignatures


async def witness_overview(
    pool: asyncpg.Pool, witnesses: Sequence[ConfiguredWitness], quorum: int
) -> WitnessOverview:
    """What ``GET /v1/audit/witnesses`` says, with times and the latest witnessed checkpoint.

    With a quorum of 0 (no policy) there is no witnessed checkpoint to name.
    """
    names = [w.name for w in witnesses]
    progress = await cosignatures.witness_progress(pool, names) if names else {}
    latest = await tree.latest_checkpoint(pool)
    witnessed = (
        await cosignatures.latest_witnessed(pool, names, quorum) if names and quorum else None
    )
    rows = []
    for w in witnesses:
        seen = progress.get(w.name)
        size = seen.size if seen else None
        rows.append(
            WitnessRow(
                name=w.name,
                url=w.url,
                key=str(w.key),
                cosigned_size=size,
                behind=None if latest is None else latest.size - (size or 0),
                cosigned_at=seen.cosigned_at if seen else None,
                received_at=seen.received_at if seen else None,
            )
        )
    return WitnessOverview(
        quorum=quorum,
        witnesses=tuple(rows),
        latest_size=None if latest is None else latest.size,
        latest_at=None if latest is None else latest.at,
        witnessed=witnessed,
    )
