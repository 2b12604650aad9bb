"""The witness's HTTP service (c2sp.org/tlog-witness).

* ``POST /add-checkpoint``: the old size, a consistency proof and a new
  checkpoint; answers the cosignature line, or refuses with the status the
  protocol sets (400, 403, 404, 409 with ``text/x.tlog.size``, 422).
* ``GET /<sha256(origin) hex>/checkpoint``: the last checkpoint cosigned for
  that log, with the log's signature and this witness's cosignature.

Every check-and-update runs under one lock and the new state is on disk
(``store.write_atomic``) before the answer goes out, so two concurrent
submissions can never roll the witness back and a crash never loses a
cosigned state. Refusals other than 409 are RFC 9457 problem documents with a
stable ``code``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get, post

from refund_registry.domain.checkpoint.cosignature import cosign
from refund_registry.domain.witnessing import (
    MAX_BODY_BYTES,
    Held,
    SizeConflict,
    UnknownLog,
    WitnessRefusal,
    decide,
    parse_request,
)
from refund_registry.witness.store import WitnessFolder, WitnessSetupError

log = logging.getLogger("refund_registry.witness")


class _Witness:
    """The witness's state in memory, always a copy of what is on disk."""

    def __init__(self, folder: WitnessFolder, clock: Callable[[], float]) -> None:
        self.folder = folder
        self.clock = clock
        self.name = folder.name
        self.key = folder.private_key()
        self.logs = folder.logs()
        self.held: dict[str, Held | None] = {
            origin: folder.held(origin, key) for origin, key in self.logs.items()
        }
        self.lock = asyncio.Lock()

    async def add_checkpoint(self, body: bytes) -> str:
        request = parse_request(body)
        async with self.lock:
            origin = request.note.partition("\n")[0]
            checkpoint = decide(request, self.logs, self.held.get(origin))
            text = request.note[: request.note.rfind("\n\n") + 1]
            line = cosign(text, self.name, self.key, int(self.clock()))
            # On disk before the answer: a cosignature is a promise never to go back.
            await asyncio.to_thread(self.folder.store, origin, request.note + line)
            self.held[origin] = Held(checkpoint.size, checkpoint.root)
        log.info("cosigned", extra={"origin": origin, "size": checkpoint.size})
        return line


class WitnessUnavailable(WitnessRefusal):
    """The witness's folder cannot be read (an operator's problem, not the log's)."""

    code = "witness.unavailable"
    title = "Witness unavailable"
    status = 503


def _problem(exc: WitnessRefusal | WitnessSetupError) -> Response[bytes]:
    if isinstance(exc, SizeConflict):
        return Response(
            f"{exc.size}\n".encode(), status_code=409, media_type=SizeConflict.media_type
        )
    refusal = exc if isinstance(exc, WitnessRefusal) else WitnessUnavailable(str(exc))
    status, code, title, detail = refusal.status, refusal.code, refusal.title, refusal.detail
    document = {
        "type": f"https://refund-registry.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return Response(
        msgspec.json.encode(document), status_code=status, media_type="application/problem+json"
    )


def _refused(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    assert isinstance(exc, WitnessRefusal | WitnessSetupError)
    return _problem(exc)


def create_witness_app(
    folder: WitnessFolder, *, clock: Callable[[], float] = time.time
) -> Litestar:
    """The witness app over ``folder``; the followed logs are read once, at start."""
    witness = _Witness(folder, clock)

    @post(
        "/add-checkpoint",
        status_code=200,
        media_type="text/plain; charset=utf-8",
        request_max_body_size=MAX_BODY_BYTES,
    )
    async def add_checkpoint(request: Request[Any, Any, Any]) -> Response[str]:
        """Cosign a checkpoint consistent with the one held, or refuse (c2sp.org/tlog-witness)."""
        line = await witness.add_checkpoint(await request.body())
        return Response(line, media_type="text/plain; charset=utf-8")

    @get("/{origin_hash:str}/checkpoint", media_type="text/plain; charset=utf-8")
    async def latest(origin_hash: str) -> Response[str]:
        """The last cosigned checkpoint of the log whose origin hashes to ``origin_hash``."""
        for origin in witness.logs:
            if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                note = folder.cosigned_note(origin)
                if note is not None:
                    return Response(note, headers={"Cache-Control": "no-cache"})
        raise UnknownLog("this witness has cosigned no checkpoint of that log")

    return Litestar(
        route_handlers=[add_checkpoint, latest],
        exception_handlers={WitnessRefusal: _refused, WitnessSetupError: _refused},
        openapi_config=None,
    )
