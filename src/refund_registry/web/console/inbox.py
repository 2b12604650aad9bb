"""The member's inbox: appeals against the member's own reports that await its answer.

Only members may use these pages (``require_staff(roles={"member"})``): a
member platform's staff sign in as the member. The list is
``services.appeal_queue`` for the member (only appeals on reports it filed)
in state ``awaiting_member``; an appeal is opened with ``AppealCases.read``,
which answers 404 for an appeal on another member's report, and answered
with ``AppealCases.respond``: ``retract`` (the report no longer counts) or
``uphold`` with a summary of the member's evidence, which goes to an
adjudicator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.params import Parameter

from refund_registry import errors
from refund_registry.services.appeal_queue import appeal_queue
from refund_registry.web.console import views
from refund_registry.web.console.guard import PATH, console_page, refusal, require_staff
from refund_registry.web.pages import PathId, form_field, runtime_of, see_other
from refund_registry.web.render import language_of

MEMBERS: Final = frozenset({"member"})
PAGE_SIZE: Final = 25
SUMMARY_MAX: Final = 2000


@get("/inbox")
async def inbox_page(
    request: Request[Any, Any, Any],
    after: Annotated[str | None, Parameter(max_length=500)] = None,
    answered: Annotated[str | None, Parameter(max_length=40)] = None,
) -> Response[Any]:
    staff = await require_staff(request, MEMBERS)
    rt = runtime_of(request)
    language = language_of(request)
    try:
        found = await appeal_queue(
            rt.pool, rt.access_log, staff.caller(), state="awaiting_member", after=after,
            limit=PAGE_SIZE, now=datetime.now(UTC),
        )  # fmt: skip
    except errors.InvalidInput:
        return see_other(PATH + "/inbox")
    rows = [views.queue_row(language, item, {}) for item in found.items]
    notice = None
    if answered == "retract":
        notice = language.gettext("Answered: you retracted the report. It no longer counts.")
    elif answered == "uphold":
        notice = language.gettext("Answered: the appeal goes to an independent adjudicator.")
    return console_page(
        request, "inbox.html", staff, section="inbox", rows=rows,
        next_after=found.next_after, first_page=after is None, notice=notice,
    )  # fmt: skip


@get("/inbox/{appeal_id:str}")
async def inbox_case(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    staff = await require_staff(request, MEMBERS)
    view = await runtime_of(request).parts.appeals.read(staff.caller(), appeal_id)
    case = views.case_view(language_of(request), view, datetime.now(UTC))
    return console_page(
        request, "answer.html", staff, section="inbox", case=case, error=None, summary="",
        action="",
    )  # fmt: skip


@post("/inbox/{appeal_id:str}/answer")
async def answer(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    """Retract the report, or uphold it with a summary of the evidence."""
    staff = await require_staff(request, MEMBERS)
    form = await request.form()
    action = form_field(form, "action", 40)
    summary = form_field(form, "summary", SUMMARY_MAX + 1)
    rt = runtime_of(request)
    try:
        await rt.parts.appeals.respond(
            staff.caller(), appeal_id, action, summary if action == "uphold" else None
        )
    except (errors.InvalidInput, errors.Conflict) as exc:
        view = await rt.parts.appeals.read(staff.caller(), appeal_id)
        case = views.case_view(language_of(request), view, datetime.now(UTC))
        status = 409 if isinstance(exc, errors.Conflict) else 422
        return console_page(
            request, "answer.html", staff, status=status, section="inbox", case=case,
            error=refusal(request, exc), summary=summary, action=action,
        )  # fmt: skip
    return see_other(PATH + f"/inbox?answered={action}")


PAGES: Final = [inbox_page, inbox_case, answer]
