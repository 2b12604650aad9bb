"""The auditor's section of the console, ``/console/audit``: the log, members' days,
checkpoints, witnesses, CSV, and the data the in-browser verification reads.

Auditors only: every handler starts with ``require_staff(request, roles={"auditor"})``,
and every read is logged as an ``audit.read`` entry attributed to the signed-in
auditor (detail ``via: console``), as the audit API's reads are. The pages are
GET-only (they change nothing), so they need no form tokens. What they show
comes from ``services.audit`` and ``services.audit_console``, the same use
cases the JSON API calls.

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

from litestar import Request, Response, get
from litestar.params import Parameter
from litestar.response import Stream, Template

from refund_registry.domain.audit_console import export_filename
from refund_registry.domain.audit_views import MAX_PAGE, MAX_SIZE, EntryFilter
from refund_registry.errors import RegistryError
from refund_registry.services import audit, audit_console, witnessing
from refund_registry.services.staff_signin import StaffIdentity
from refund_registry.web.console.audit_filters import (
    actions,
    anomaly_text,
    form_values,
    member_chart,
    parse_filters,
    query_string,
)
from refund_registry.web.console.guard import console_page, require_staff
from refund_registry.web.i18n import N_
from refund_registry.web.pages import runtime_of
from refund_registry.web.render import language_of

PATH: Final = "/console/audit"
AUDITORS: Final = frozenset({"auditor"})
PAGE_SIZE: Final = 50

FILTER_REFUSALS: Final = {
    "audit.action": N_("Choose an action from the list."),
    "audit.time_range": N_("The start of the time range must be before its end."),
    "request.invalid_query": N_(
        "A filter is not in the expected form. Times look like 2026-03-01T08:00."
    ),
}


async def _auditor(request: Request[Any, Any, Any]) -> StaffIdentity:
    return await require_staff(request, roles=AUDITORS)


async def _log_read(
    request: Request[Any, Any, Any], staff: StaffIdentity, view: str, detail: dict[str, Any]
) -> None:
    """Log one console read as an ``audit.read`` entry, durably, before the page is answered.

    The entry is the audit API's (``services.audit.record_read``), with the
    console session as its request and ``via: console`` in its detail.
    """
    caller = staff.caller()
    await audit.record_read(
        runtime_of(request).access_log,
        caller,
        view,
        at=datetime.now(UTC),
        detail={"via": caller.via, **detail},
    )


def _page(
    request: Request[Any, Any, Any], staff: StaffIdentity, name: str, **context: Any
) -> Template:
    """``console/audit/<name>``, marked as the console's audit section."""
    return console_page(request, f"audit/{name}", staff, section="audit", **context)


def _filters(request: Request[Any, Any, Any]) -> EntryFilter:
    return parse_filters({k: v for k, v in request.query_params.items() if isinstance(v, str)})


@get("/audit")
async def log_browser(
    request: Request[Any, Any, Any],
    after: Annotated[int | None, Parameter(ge=0, le=MAX_SIZE)] = None,
) -> Template:
    """The access log, filtered and paged by index; each entry's fields and leaf hash.

    A filter that does not parse shows the form again with what is wrong (422 or 400).
    """
    staff = await _auditor(request)
    try:
        filters = _filters(request)
    except RegistryError as exc:
        language = language_of(request)
        message = FILTER_REFUSALS.get(exc.code, FILTER_REFUSALS["request.invalid_query"])
        return _log_page(
            request,
            staff,
            EntryFilter(),
            None,
            status=exc.status,
            error=language.gettext(message),
            raw=request.query_params,
        )
    page = await audit.list_entries(
        runtime_of(request).pool, after=after, limit=PAGE_SIZE, filters=filters
    )
    await _log_read(
        request, staff, "console.entries", {"filters": filters.described(), "after": after}
    )
    return _log_page(request, staff, filters, page, after=after)


def _log_page(
    request: Request[Any, Any, Any],
    staff: StaffIdentity,
    filters: EntryFilter,
    page: dict[str, Any] | None,
    *,
    after: int | None = None,
    status: int = 200,
    error: str | None = None,
    raw: Any = None,
) -> Template:
    next_after = page["next_after"] if page else None
    form = form_values(filters)
    if raw is not None:  # show what was typed, so it can be corrected
        form = {name: str(raw.get(name) or "")[:200] for name in form}
    return _page(
        request,
        staff,
        "log.html",
        status=status,
        view="log",
        entries=page["entries"] if page else [],
        next_link=(
            f"{PATH}?{query_string(filters, after=next_after)}" if next_after is not None else None
        ),
        first_link=f"{PATH}?{query_string(filters)}" if after is not None else None,
        csv_link=f"{PATH}/export.csv?{query_string(filters)}",
        form=form,
        actions=actions(),
        error=error,
    )


@get("/audit/members")
async def members(
    request: Request[Any, Any, Any],
    member: Annotated[str | None, Parameter(max_length=200)] = None,
    day: Annotated[date | None, Parameter()] = None,
) -> Template:
    """Per member, the last 14 UTC days as charts, with the daily summary's anomaly flags."""
    staff = await _auditor(request)
    last_day = day or audit_console.today()
    chosen = (member or "").strip() or None
    series = await audit_console.member_series(
        runtime_of(request).pool, last_day=last_day, member=chosen
    )
    detail: dict[str, Any] = {"day": last_day.isoformat()}
    if chosen:
        detail["member"] = chosen
    await _log_read(request, staff, "console.members", detail)
    language = language_of(request)
    charts = [member_chart(language, s.member, s.days, i) for i, s in enumerate(series)]
    return _page(
        request,
        staff,
        "members.html",
        view="members",
        charts=charts,
        member=chosen or "",
        day=last_day.isoformat(),
        days=audit_console.CHART_DAYS,
        anomaly_text=anomaly_text,
    )


@get("/audit/checkpoints")
async def checkpoints(
    request: Request[Any, Any, Any],
    before: Annotated[int | None, Parameter(ge=1, le=MAX_SIZE)] = None,
) -> Template:
    """Checkpoint history, newest first, and the current merge delay against the promise."""
    staff = await _auditor(request)
    pool = runtime_of(request).pool
    history = await audit_console.checkpoint_history(pool, before=before, limit=PAGE_SIZE)
    delay = await audit_console.current_merge_delay(pool, datetime.now(UTC))
    await _log_read(request, staff, "console.checkpoints", {"before": before})
    older = history[-1].size if len(history) == PAGE_SIZE else None
    return _page(
        request,
        staff,
        "checkpoints.html",
        view="checkpoints",
        history=history,
        delay=delay,
        older_link=f"{PATH}/checkpoints?before={older}" if older else None,
    )


@get("/audit/witnesses")
async def witnesses(request: Request[Any, Any, Any]) -> Template:
    """The witness policy (k of n), each witness's progress, the latest witnessed checkpoint."""
    staff = await _auditor(request)
    rt = runtime_of(request)
    overview = await witnessing.witness_overview(
        rt.pool, rt.settings.witnesses, rt.settings.witness_quorum
    )
    await _log_read(request, staff, "console.witnesses", {})
    return _page(request, staff, "witnesses.html", view="witnesses", overview=overview)


@get("/audit/verify")
async def verify_page(request: Request[Any, Any, Any]) -> Template:
    """The page that verifies the log in the browser (``audit-verify.js``)."""
    staff = await _auditor(request)
    return _page(request, staff, "verify.html", view="verify")


@get("/audit/export.csv")
async def export(request: Request[Any, Any, Any]) -> Stream:
    """Every entry the filters match, as CSV, streamed; the filters are in the file name."""
    staff = await _auditor(request)
    filters = _filters(request)
    await _log_read(request, staff, "console.export", {"filters": filters.described()})
    pool = runtime_of(request).pool

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


@get("/audit/data/checkpoint")
async def data_checkpoint(request: Request[Any, Any, Any]) -> Response[str]:
    """The latest signed checkpoint, exactly as the audit API serves it."""
    await _auditor(request)
    latest = await audit.require_checkpoint(runtime_of(request).pool)
    return Response(content=latest.note, media_type="text/plain; charset=utf-8")


@get("/audit/data/entries")
async def data_entries(
    request: Request[Any, Any, Any],
    after: Annotated[int | None, Parameter(ge=0, le=MAX_SIZE)] = None,
    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> Response[dict[str, Any]]:
    """Entries by index: ``index`` and the exact ``leaf`` bytes only; the page hashes them."""
    staff = await _auditor(request)
    page = await audit.list_entries(
        runtime_of(request).pool, after=after, limit=limit, filters=EntryFilter()
    )
    await _log_read(request, staff, "console.verify", {"after": after})
    items = [{"index": e["index"], "leaf": e["leaf"]} for e in page["entries"]]
    return Response({"entries": items, "next_after": page["next_after"]})


@get("/audit/data/consistency")
async def data_consistency(
    request: Request[Any, Any, Any],
    first: Annotated[int, Parameter(ge=0, le=MAX_SIZE)],
    second: Annotated[int, Parameter(ge=0, le=MAX_SIZE)],
) -> Response[dict[str, Any]]:
    """An RFC 9162 consistency proof, as the audit API serves it (the page checks it)."""
    await _auditor(request)
    proof = await audit.consistency_proof(runtime_of(request).pool, first, second)
    return Response(proof.as_json())


PAGES: Final = [
    log_browser,
    members,
    checkpoints,
    witnesses,
    verify_page,
    export,
    data_checkpoint,
    data_entries,
    data_consistency,
]
"""The handlers of the console's audit section (listed in ``web/console/__init__.py``)."""
