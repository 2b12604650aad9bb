"""The adjudicator's console: the appeal queue, the case, the evidence check, the decision.

Only adjudicators may use these pages (``require_staff(roles={"adjudicator"})``).
The queue is ``services.appeal_queue`` (every appeal, soonest deadline first),
shown by default for appeals awaiting adjudication, so an appeal that is
decided leaves it at once. The case is ``AppealCases.read`` as the
adjudicator sees it, the decision ``AppealCases.decide``: the same use cases,
checks and access-log entries as the API's, as the principal ``via: console``.

The evidence check runs in the browser only (``static/evidence-check.js``):
the file an adjudicator drops in is hashed with WebCrypto and compared with
the report's ``evidence_digest``; nothing is uploaded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.params import Parameter, QueryParameter

from refund_registry import errors
from refund_registry.domain import paging
from refund_registry.services.appeal_queue import appeal_queue
from refund_registry.web.console import views
from refund_registry.web.console.guard import PATH, console_page, refusal, require_staff
from refund_registry.web.pages import PathId, form_field, runtime_of, see_other
from refund_registry.web.render import language_of

ADJUDICATORS: Final = frozenset({"adjudicator"})
PAGE_SIZE: Final = 25
RATIONALE_MAX: Final = 2000


@get("/queue")
async def queue_page(
    request: Request[Any, Any, Any],
    wanted: Annotated[str | None, QueryParameter(name="state", max_length=40)] = None,
    due: Annotated[str | None, Parameter(max_length=20)] = None,
    after: Annotated[str | None, Parameter(max_length=500)] = None,
    decided: Annotated[str | None, Parameter(max_length=40)] = None,
) -> Response[Any]:
    """The queue, filtered by state (awaiting adjudication unless told) and due date."""
    staff = await require_staff(request, ADJUDICATORS)
    rt = runtime_of(request)
    language = language_of(request)
    chosen = wanted if wanted in (*views.QUEUE_FILTERS, "all") else "awaiting_adjudication"
    error = None
    try:
        before = views.due_before(due)
    except ValueError:
        before, due = None, ""
        error = language.gettext("Enter the date as YYYY-MM-DD.")
    try:
        found = await appeal_queue(
            rt.pool, rt.access_log, staff.caller(),
            state=None if chosen == "all" else chosen, due_before=before, after=after,
            limit=PAGE_SIZE, now=datetime.now(UTC),
        )  # fmt: skip
    except errors.InvalidInput:  # a cursor of other filters: start again from the top
        return see_other(PATH + "/queue")
    names = await rt.parts.staff.names({item.member for item in found.items})
    rows = [views.queue_row(language, item, names) for item in found.items]
    notice = None
    if decided in views.STATES:
        notice = language.gettext("Decided. The appeal has left the queue.")
    return console_page(
        request,
        "queue.html",
        staff,
        section="queue",
        rows=rows,
        state=chosen,
        states=[(s, views.state_words(language, s)) for s in views.QUEUE_FILTERS],
        due=due or "",
        next_after=found.next_after,
        first_page=after is None,
        error=error,
        notice=notice,
        page_size=min(PAGE_SIZE, paging.MAX_PAGE),
    )


@get("/appeals/{appeal_id:str}")
async def case_page(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    staff = await require_staff(request, ADJUDICATORS)
    view = await runtime_of(request).parts.appeals.read(staff.caller(), appeal_id)
    case = views.case_view(language_of(request), view, datetime.now(UTC))
    return console_page(
        request, "case.html", staff, section="queue", case=case, error=None, rationale=""
    )


@post("/appeals/{appeal_id:str}/decide")
async def decide(request: Request[Any, Any, Any], appeal_id: PathId) -> Response[Any]:
    """Decide an appeal awaiting adjudication; back to the queue, where it is gone."""
    staff = await require_staff(request, ADJUDICATORS)
    form = await request.form()
    outcome = form_field(form, "outcome", 40)
    rationale = form_field(form, "rationale", RATIONALE_MAX + 1)
    rt = runtime_of(request)
    try:
        await rt.parts.appeals.decide(staff.caller(), appeal_id, outcome, rationale)
    except (errors.InvalidInput, errors.Conflict) as exc:
        view = await rt.parts.appeals.read(staff.caller(), appeal_id)
        case = views.case_view(language_of(request), view, datetime.now(UTC))
        status = 409 if isinstance(exc, errors.Conflict) else 422
        return console_page(
            request, "case.html", staff, status=status, section="queue", case=case,
            error=refusal(request, exc), rationale=rationale,
        )  # fmt: skip
    return see_other(PATH + f"/queue?decided={outcome if outcome in views.STATES else 'yes'}")


PAGES: Final = [queue_page, case_page, decide]
