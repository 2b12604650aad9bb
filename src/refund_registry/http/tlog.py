"""The access log as a C2SP tiled log (c2sp.org/tlog-tiles), under the prefix ``/v1/audit/tlog``.

* ``GET /v1/audit/tlog/checkpoint``: the latest checkpoint (as ``/v1/audit/checkpoint``);
* ``GET /v1/audit/tlog/tile/<L>/<N>[.p/<W>]``: hash tiles, for members and auditors;
* ``GET /v1/audit/tlog/tile/entries/<N>[.p/<W>]``: entry bundles, for auditors only
  (entries name members and purposes, as ``/v1/audit/entries`` does), each read
  logged as an ``audit.read`` entry.

Every request is signed, like the rest of the audit API; a generic tile client
needs only to add the token. Full tiles never change and may be cached
privately for good; partial tiles and the checkpoint may not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from refund_registry.domain.tiles import parse_tile_path
from refund_registry.errors import Forbidden
from refund_registry.http.common import AUDITOR, MEMBER, caller_of, runtime, signed
from refund_registry.http.openapi import AUTH, COMMON, errors_for
from refund_registry.services import audit
from refund_registry.services.tiles import tile_bytes

PREFIX = "/v1/audit/tlog"
READERS = MEMBER | AUDITOR
TilePath = Annotated[
    str, Parameter(description="`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`", max_length=200)
]


@get(
    f"{PREFIX}/checkpoint",
    tags=["audit"],
    summary="The latest checkpoint (tlog-tiles)",
    media_type="text/plain; charset=utf-8",
    responses=errors_for(AUTH, ("audit.no_checkpoint",), COMMON),
    **signed(READERS),
)
async def tlog_checkpoint(request: Request[Any, Any, Any]) -> Response[str]:
    """The latest signed checkpoint; the tiles below serve its tree."""
    latest = await audit.require_checkpoint(runtime(request).pool)
    return Response(
        latest.note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


@get(
    f"{PREFIX}/tile/{{path:path}}",
    tags=["audit"],
    summary="A Merkle tile or an entry bundle (tlog-tiles)",
    media_type="application/octet-stream",
    responses=errors_for(
        AUTH, ("audit.tile_path", "audit.tile_not_found", "audit.no_checkpoint"), COMMON
    ),
    **signed(READERS),
)
async def tile(request: Request[Any, Any, Any], path: TilePath) -> Response[bytes]:
    """``<L>/<N>[.p/<W>]`` (hashes) or ``entries/<N>[.p/<W>]`` (auditors only)."""
    rt = runtime(request)
    wanted = parse_tile_path(path)
    caller = caller_of(request)
    if wanted.level is None and caller.role not in AUDITOR:
        raise Forbidden("entry bundles are for auditors", code="auth.forbidden_role")
    content = await tile_bytes(rt.pool, wanted)
    if wanted.level is None:
        await audit.record_read(
            rt.access_log,
            caller,
            "tile",
            at=datetime.now(UTC),
            detail={"tile": wanted.path()},
        )
    cache = "no-cache" if wanted.partial else "private, max-age=31536000, immutable"
    return Response(
        content, media_type="application/octet-stream", headers={"Cache-Control": cache}
    )


ROUTES = [tlog_checkpoint, tile]
