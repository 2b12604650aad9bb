"""The listings: the appeal work queue and a member's own reports (signed requests).

``GET /v1/appeals`` is the work queue of adjudicators (every appeal) and
members (the appeals on their own reports); ``GET /v1/reports`` a member's
own reports. Both are keyset-paged with opaque cursors (``next_after``, sent
back as ``after``); a cursor is good only for the caller and filters it was
handed out for. Who sees what and in which order is the services' decision
(``services.appeal_queue``, ``services.report_listing``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Parameter, QueryParameter

from refund_registry.domain import paging
from refund_registry.errors import InvalidCursor, InvalidInput, RegistryError
from refund_registry.http.answers import AppealQueue, ReportPage
from refund_registry.http.common import ADJUDICATOR, MEMBER, answer, caller_of, runtime, signed
from refund_registry.http.openapi import AUTH, COMMON, errors_for
from refund_registry.services import appeal_queue, report_listing

_PAGE_CODES: Final = ("page.cursor", "page.limit")

After = Annotated[
    str | None,
    Parameter(
        min_length=1,
        max_length=paging.MAX_CURSOR_CHARS,
        description="the `next_after` of the previous page; leave out for the first page",
    ),
]
Limit = Annotated[
    int,
    Parameter(
        ge=1,
        le=paging.MAX_PAGE,
        description=f"items per page, 1 to {paging.MAX_PAGE}",
    ),
]


def _limit(name: str, message: str) -> RegistryError:
    return InvalidInput(f"limit must be 1 to {paging.MAX_PAGE}", code="page.limit")


def _cursor(name: str, message: str) -> RegistryError:
    return InvalidCursor("'after' must be a cursor from an earlier page", code="page.cursor")


def _state(name: str, message: str) -> RegistryError:
    options = ", ".join(sorted(appeal_queue.STATES))
    return InvalidInput(f"state: must be one of {options}", code="queue.state")


def _due_before(name: str, message: str) -> RegistryError:
    return InvalidInput("due_before: must be a time with a UTC offset", code="queue.due_before")


def _status(name: str, message: str) -> RegistryError:
    options = ", ".join(sorted(report_listing.STATUS_FILTER))
    return InvalidInput(f"status: must be one of {options}", code="report.status_filter")


_QUEUE_EXAMPLE: Final = {
    "appeals": [
        {
            "appeal_id": "apl_5f2c0e9a7d3b4c1e",
            "report_id": "rpt_01JD7Q8Z4K2M9X3V5B6N7P8R9S",
            "state": "awaiting_member",
            "grounds": "not_me",
            "filed_at": "2026-11-20T10:00:00Z",
            "due": "2026-11-30T10:00:00Z",
            "days_left": 1,
            "member": "prn_8c1d2e3f4a5b6c7d",
            "category": "ai_forged_evidence",
            "amount": {"minor_units": 129900, "currency": "CNY"},
        }
    ],
    "next_after": "WzEsImFwcGVhbHM6…",
}


_REPORTS_EXAMPLE: Final = {
    "reports": [
        {
            "report_id": "rpt_01JD7Q8Z4K2M9X3V5B6N7P8R9S",
            "case_reference": "RF-2026-000123",
            "category": "ai_forged_evidence",
            "amount": {"minor_units": 129900, "currency": "CNY"},
            "order_date": "2026-11-01",
            "refund_date": "2026-11-09",
            "confirmed_at": "2026-11-18T09:30:00Z",
            "buyer_notified_at": "2026-11-19T08:00:00Z",
            "filed_at": "2026-11-20T10:00:00Z",
            "evidence_kinds": ["photo_forensics", "ai_detector"],
            "identifier_kinds": ["phone"],
            "status": "active",
            "status_changed_at": "2026-11-20T10:00:00Z",
            "status_reason": None,
            "expires_at": "2028-11-18T09:30:00Z",
            "receipt": {
                "leaf_hash": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                "logged_at": "2026-11-20T10:00:00Z",
                "signature": "MEUCIQ…",
            },
        }
    ],
    "next_after": "WzEsInJlcG9ydHM6…",
}


@get(
    "/v1/appeals",
    tags=["appeals"],
    summary="The appeal work queue: soonest deadline first, cursor-paged",
    responses={
        200: ResponseSpec(
            data_container=AppealQueue,
            generate_examples=False,
            description="One page of the queue",
            examples=[Example(summary="a page", value=_QUEUE_EXAMPLE)],
        ),
        **errors_for(AUTH, _PAGE_CODES, ("queue.state", "queue.due_before"), COMMON),
    },
    **signed(
        MEMBER | ADJUDICATOR,
        query_refusals={
            "limit": _limit,
            "after": _cursor,
            "state": _state,
            "state_filter": _state,
            "due_before": _due_before,
        },
    ),
)
async def list_appeals(
    request: Request[Any, Any, Any],
    state_filter: Annotated[
        str | None,
        QueryParameter(
            name="state",
            min_length=1,
            max_length=40,
            description="only appeals in this state: " + ", ".join(sorted(appeal_queue.STATES)),
        ),
    ] = None,
    due_before: Annotated[
        datetime | None,
        Parameter(
            description="only open appeals whose current deadline is before this time "
            "(RFC 3339, with a UTC offset)"
        ),
    ] = None,
    after: After = None,
    limit: Limit = paging.DEFAULT_PAGE,
) -> Response[AppealQueue]:
    """Adjudicators see every appeal, a member those on the reports it filed.

    Open appeals come first, the soonest deadline of their current step first
    (the member's answer while ``awaiting_member``, the decision while
    ``awaiting_adjudication``); closed appeals follow, by closing time. Every
    page is logged (action ``appeal.list``).
    """
    caller = caller_of(request)
    rt = runtime(request)
    page = await appeal_queue.appeal_queue(
        rt.pool, rt.access_log, caller, state=state_filter, due_before=due_before, after=after,
        limit=limit, now=datetime.now(UTC),
    )  # fmt: skip
    return answer(
        {
            "appeals": [appeal_queue.item_json(item) for item in page.items],
            "next_after": page.next_after,
        },
        AppealQueue,
    )


@get(
    "/v1/reports",
    tags=["reports"],
    summary="The caller's own reports, newest first, cursor-paged",
    responses={
        200: ResponseSpec(
            data_container=ReportPage,
            generate_examples=False,
            description="One page of the caller's reports, each as GET /v1/reports/{id} shows it",
            examples=[Example(summary="a page", value=_REPORTS_EXAMPLE)],
        ),
        **errors_for(AUTH, _PAGE_CODES, ("report.status_filter",), COMMON),
    },
    **signed(MEMBER, query_refusals={"limit": _limit, "after": _cursor, "status": _status}),
)
async def list_reports(
    request: Request[Any, Any, Any],
    status: Annotated[
        str | None,
        Parameter(
            min_length=1,
            max_length=40,
            description="only reports with this status: "
            + ", ".join(sorted(report_listing.STATUS_FILTER)),
        ),
    ] = None,
    after: After = None,
    limit: Limit = paging.DEFAULT_PAGE,
) -> Response[ReportPage]:
    """Only what the caller filed itself. Every page is logged (action ``report.list``)."""
    caller = caller_of(request)
    rt = runtime(request)
    page = await report_listing.member_reports(
        rt.pool, rt.access_log, caller, status=status, after=after, limit=limit,
        now=datetime.now(UTC),
    )  # fmt: skip
    return answer({"reports": list(page.items), "next_after": page.next_after}, ReportPage)


ROUTES = [list_appeals, list_reports]
