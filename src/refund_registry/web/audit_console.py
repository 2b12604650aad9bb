"""The auditor's console under ``/console/audit``: the log, members' days, checkpoints, CSV,
and the data the in-browser verification reads.

Auditors only: every handler starts with :func:`auditor_of`, and every read is
logged as an ``audit.read`` entry attributed to the signed-in auditor, as the
audit API's reads are. The pages are GET-only (they change nothing), so they
need no form tokens. What they show comes from ``services.audit`` and
``services.audit_console``, the same use cases the JSON API calls.

The verification page (``/console/audit/verify``) runs ``audit-verify.js`` in
the browser. It reads the verifier key from the public API route and the
checkpoint, the entries' exact bytes and consistency proofs from the routes
under ``/console/audit/data/``, and checks everything itself: none of these
routes computes a hash for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final

from litestar import Request, Response, Router, get
from litestar.exceptions import HTTPException
from litestar.params import Parameter
from litestar.response import Stream

from refund_registry.config import Settings
from refund_registry.domain.audit_console import export_filename
from refund_registry.domain.audit_views import MAX_PAGE, MAX_SIZE, EntryFilter
from refund_registry.errors import RegistryError
from refund_registry.services import audit, audit_console
from refund_registry.web import render
from refund_registry.web.audit_filters import (
    actions,
    anomaly_text,
    form_values,
    member_chart,
    parse_filters,
    query_string,
)
from refund_registry.web.audit_guard import (
    auditor_of,
    console_page,
    http_error,
    internal_error,
    log_read,
    registry_error,
)
from refund_registry.web.security import is_secure, secure_headers

PATH: Final = "/console/audit"
PAGE_SIZE: Final = 50


def _filters(request: Request[Any, Any, Any]) -> EntryFilter:
    return parse_filters({k: v for k, v in request.query_params.items() if isinstance(v, str)})


def _now() -> datetime:
    return datetime.now(UTC)


@get("/")
async def log_browser(
    request: Request[Any, Any, Any],
    after: Annotated[int | None, Parameter(ge=0, le=MAX_SIZE)] = None,
) -> Response[Any]:
    """The access log, filtered and paged by index; each entry's fields and leaf hash."""
    auditor = await auditor_of(request)
    filters = _filters(request)
    rt = auditor.runtime
    page = await audit.list_entries(rt.pool, after=after, limit=PAGE_SIZE, filters=filters)
    await log_read(
        request, auditor, "console.entries", {"filters": filters.described(), "after": after}
    )
    return console_page(
        request,
        auditor,
        "log.html",
        section="log",
        entries=page["entries"],
        next_link=(
            f"{PATH}/?{query_string(filters, after=page['next_after'])}"
            if page["next_after"] is not None
            else None
        ),
        first_link=f"{PATH}/?{query_string(filters)}" if after is not None else None,
        csv_link=f"{PATH}/export.csv?{query_string(filters)}",
        form=form_values(filters),
        actions=actions(),
    )


@get("/members")
async def members(
    request: Request[Any, Any, Any],
    member: Annotated[str | None, Parameter(max_length=200)] = None,
    day: Annotated[date | None, Parameter()] = None,
) -> Response[Any]:
    """Per member, the last 14 UTC days as charts, with the daily summary's anomaly flags."""
    auditor = await auditor_of(request)
    last_day = day or audit_console.today(_now())
    chosen = (member or "").strip() or None
    series = await audit_console.member_series(
        auditor.runtime.pool, last_day=last_day, member=chosen
    )
    await log_read(
        request,
        auditor,
        "console.members",
        {"member": chosen, "day": last_day.isoformat()}
        if chosen
        else {"day": last_day.isoformat()},
    )
    language = auditor.language
    charts = [member_chart(language, s.member, s.days, i) for i, s in enumerate(series)]
    return console_page(
        request,
        auditor,
        "members.html",
        section="members",
        charts=charts,
        member=chosen or "",
        day=last_day.isoformat(),
        days=audit_console.CHART_DAYS,
        anomaly_text=anomaly_text,
    )


@get("/checkpoints")
async def checkpoints(
    request: Request[Any, Any, Any],
    before: Annotated[int | None, Parameter(ge=1, le=MAX_SIZE)] = None,
) -> Response[Any]:
    """Checkpoint history, newest first, and the current merge delay against the promise."""
    auditor = await auditor_of(request)
    pool = auditor.runtime.pool
    history = await audit_console.checkpoint_history(pool, before=before, limit=PAGE_SIZE)
    delay = await audit_console.current_merge_delay(pool, _now())
    await log_read(request, auditor, "console.checkpoints", {"before": before})
    older = history[-1].size if len(history) == PAGE_SIZE else None
    return console_page(
        request,
        auditor,
        "checkpoints.html",
        section="checkpoints",
        history=history,
        delay=delay,
        older_link=f"{PATH}/checkpoints?before={older}" if older else None,
    )


@get("/verify")
async def verify_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The page that verifies the log in the browser (``audit-verify.js``)."""
    auditor = await auditor_of(request)
    return console_page(request, auditor, "verify.html", section="verify")


@get("/export.csv")
async def export(request: Request[Any, Any, Any]) -> Stream:
    """Every entry the filters match, as CSV, streamed; the filters are in the file name."""
    auditor = await auditor_of(request)
    filters = _filters(request)
    await log_read(request, auditor, "console.export", {"filters": filters.described()})
    pool = auditor.runtime.pool

    async def body() -> AsyncIterator[bytes]:
        yield b"\xef\xbb\xbf"  # a BOM, so spreadsheets read the UTF-8 as UTF-8
        async for text in audit_console.export_csv(pool, filters):
            yield text.encode()

    name = export_filename(filters)
    return Stream(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --------------------------------------------------------------------------- verification data


@get("/data/checkpoint")
async def data_checkpoint(request: Request[Any, Any, Any]) -> Response[str]:
    """The latest signed checkpoint, exactly as the audit API serves it."""
    auditor = await auditor_of(request)
    latest = await audit.require_checkpoint(auditor.runtime.pool)
    return Response(content=latest.note, media_type="text/plain; charset=utf-8")


@get("/data/entries")
async def data_entries(
    request: Request[Any, Any, Any],
    after: Annotated[int | None, Parameter(ge=0, le=MAX_SIZE)] = None,
    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> Response[dict[str, Any]]:
    """Entries by index: ``index`` and the exact ``leaf`` bytes only; the page hashes them."""
    auditor = await auditor_of(request)
    page = await audit.list_entries(
        auditor.runtime.pool, after=after, limit=limit, filters=EntryFilter()
    )
    await log_read(request, auditor, "console.verify", {"after": after})
    items = [{"index": e["index"], "leaf": e["leaf"]} for e in page["entries"]]
    return Response({"entries": items, "next_after": page["next_after"]})


@get("/data/consistency")
async def data_consistency(
    request: Request[Any, Any, Any],
    first: Annotated[int, Parameter(ge=0, le=MAX_SIZE)],
    second: Annotated[int, Parameter(ge=0, le=MAX_SIZE)],
) -> Response[dict[str, Any]]:
    """An RFC 9162 consistency proof, as the audit API serves it (the page checks it)."""
    auditor = await auditor_of(request)
    proof = await audit.consistency_proof(auditor.runtime.pool, first, second)
    return Response(proof.as_json())


ROUTES: Final = [
    log_browser,
    members,
    checkpoints,
    verify_page,
    export,
    data_checkpoint,
    data_entries,
    data_consistency,
]


def routes(settings: Settings) -> list[Router]:
    """The console's audit pages and data routes, all under ``/console/audit``."""
    return [
        Router(
            path=PATH,
            route_handlers=ROUTES,
            middleware=[secure_headers],
            exception_handlers={
                RegistryError: registry_error,
                HTTPException: http_error,
                Exception: internal_error,
            },
            include_in_schema=False,
            opt={render.SECURE_OPT: is_secure(settings.public_url)},
        )
    ]
