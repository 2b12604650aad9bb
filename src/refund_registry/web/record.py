"""The buyer's record, inquiries, appeals and statement."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import Parameter

from refund_registry import errors
from refund_registry.services.appeals import Subject
from refund_registry.web import views
from refund_registry.web.pages import (
    PathId,
    buyer_of,
    current_time,
    error_page,
    form_field,
    runtime_of,
    see_other,
)
from refund_registry.web.render import language_of, page, refusal
from refund_registry.web.security import (
    PATH,
)

# -- the record ------------------------------------------------------------------------------


async def _record(request: Request[Any, Any, Any]) -> tuple[Subject, views.RecordView]:
    subject = await buyer_of(request)
    record = await runtime_of(request).parts.appeals.record(subject)
    return subject, views.record_view(language_of(request), record, current_time())


@get("/record")
async def record_page(request: Request[Any, Any, Any]) -> Response[Any]:
    _, record = await _record(request)
    return page(request, "record.html", signed_in=True, record=record, section="record")


@get("/inquiries")
async def inquiries_page(request: Request[Any, Any, Any]) -> Response[Any]:
    _, record = await _record(request)
    return page(request, "inquiries.html", signed_in=True, record=record, section="inquiries")


@get("/appeals")
async def appeals_page(request: Request[Any, Any, Any]) -> Response[Any]:
    _, record = await _record(request)
    return page(request, "appeals.html", signed_in=True, record=record, section="appeals")


@get("/appeals/{appeal_id:str}")
async def appeal_page(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    subject = await buyer_of(request)
    language = language_of(request)
    view = await runtime_of(request).parts.appeals.read(subject, appeal_id[:200])
    report = view.get("report") or {}
    summary = views.appeal_view(
        language, view, {view["report_id"]: str(report.get("member", ""))}, current_time()
    )
    amount = report.get("amount") or {}
    return page(
        request,
        "appeal.html",
        signed_in=True,
        section="appeals",
        appeal=summary,
        statement=view.get("statement") or "",
        member_summary=view.get("member_summary"),
        rationale=view.get("decision_rationale"),
        steps=views.timeline(language, view.get("history") or []),
        amount=(
            language.money(int(amount["minor_units"]), str(amount["currency"])) if amount else ""
        ),
    )


def _appeal_form(
    request: Request[Any, Any, Any],
    record: views.RecordView,
    report_id: str,
    *,
    status: int = 200,
    error: errors.RegistryError | None = None,
    grounds: str = "",
    statement: str = "",
) -> Response[Any]:
    language = language_of(request)
    report = next((r for r in record.reports if r.report_id == report_id), None)
    if report is None:
        return error_page(request, 404, refusal(language_of(request), "report.not_found"))
    return page(
        request,
        "appeal_new.html",
        status=status,
        signed_in=True,
        section="appeals",
        report=report,
        grounds_choices=[
            (value, language.gettext(label), language.gettext(text))
            for value, label, text in views.grounds_for(record, report_id)
        ],
        chosen=grounds,
        statement=statement,
        count=views.length(statement),
        limit=views.APPEAL_STATEMENT_MAX,
        error=refusal(language, error) if error else None,
        error_field=(
            "" if error is None else "statement" if "statement" in error.code else "grounds"
        ),
    )


@get("/appeals/new")
async def new_appeal_page(
    request: Request[Any, Any, Any],
    report: Annotated[str, Parameter(max_length=200)] = "",
) -> Response[Any]:
    _, record = await _record(request)
    return _appeal_form(request, record, report)


@post("/appeals")
async def file_appeal(request: Request[Any, Any, Any]) -> Response[Any]:
    subject = await buyer_of(request)
    form = await request.form()
    report_id = form_field(form, "report_id", 200)
    grounds = form_field(form, "grounds", 60)
    statement = form_field(form, "statement")
    language = language_of(request)
    try:
        if grounds not in views.GROUND_VALUES:
            raise errors.InvalidInput("no grounds chosen", code="appeal.invalid_grounds")
        appeal = await runtime_of(request).parts.appeals.open(
            subject, report_id, grounds, statement
        )
    except (errors.InvalidInput, errors.Conflict) as exc:
        record = await runtime_of(request).parts.appeals.record(subject)
        shown = views.record_view(language, record, current_time())
        return _appeal_form(
            request,
            shown,
            report_id,
            status=exc.status,
            error=exc,
            grounds=grounds,
            statement=statement,
        )
    return see_other(f"{PATH}/appeals/{appeal['appeal_id']}?filed=1")


@post("/appeals/{appeal_id:str}/withdraw")
async def withdraw_appeal(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    subject = await buyer_of(request)
    await runtime_of(request).parts.appeals.withdraw(subject, appeal_id[:200])
    return see_other(f"{PATH}/appeals/{appeal_id[:200]}")


# -- the statement ---------------------------------------------------------------------------


def _statement_form(
    request: Request[Any, Any, Any],
    record: views.RecordView,
    *,
    status: int = 200,
    text: str | None = None,
    error: str | None = None,
    saved: bool = False,
) -> Response[Any]:
    current = record.statement or ""
    shown = current if text is None else text
    allowed = any(a.state_code == "upheld" for a in record.appeals)
    return page(
        request,
        "statement.html",
        status=status,
        signed_in=True,
        section="statement",
        current=current,
        statement=shown,
        count=views.length(shown),
        limit=views.STATEMENT_MAX,
        allowed=allowed,
        error=error,
        saved=saved,
    )


@get("/statement")
async def statement_page(
    request: Request[Any, Any, Any],
    saved: Annotated[str | None, Parameter(max_length=10)] = None,
) -> Response[Any]:
    _, record = await _record(request)
    return _statement_form(request, record, saved=saved is not None)


@post("/statement")
async def save_statement(request: Request[Any, Any, Any]) -> Response[Any]:
    subject = await buyer_of(request)
    form = await request.form()
    text = form_field(form, "statement")
    remove = form_field(form, "action", 20) == "remove"
    language = language_of(request)
    try:
        await runtime_of(request).parts.appeals.set_statement(subject, None if remove else text)
    except (errors.InvalidInput, errors.Conflict) as exc:
        record = await runtime_of(request).parts.appeals.record(subject)
        shown = views.record_view(language, record, current_time())
        return _statement_form(
            request, shown, status=exc.status, text=text, error=refusal(language, exc)
        )
    return see_other(PATH + "/statement?saved=1")


@post("/count/{which:str}")
async def count(request: Request[Any, Any, Any], which: PathId) -> Response[Any]:
    """The live counter under a text box (htmx): counted here, as the registry counts."""
    limit = views.STATEMENT_MAX if which == "statement" else views.APPEAL_STATEMENT_MAX
    form = await request.form()
    text = form_field(form, "statement")
    return page(
        request,
        "counter.html",
        count=views.length(text),
        limit=limit,
        field_id="statement",
    )
