"""Report ledger routes (role ``member``): intake, bulk, read, retract, event feed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, Parameter
from msgspec import Meta

from refund_registry.domain import reports as rules
from refund_registry.errors import InvalidInput, RegistryError
from refund_registry.http.answers import BulkFiled, EventPage, ReportFiled, ReportView, Retracted
from refund_registry.http.common import (
    MEMBER,
    Body,
    IdentifierIn,
    ShortText,
    answer,
    caller_of,
    runtime,
    signed,
)
from refund_registry.http.locale import locale_of
from refund_registry.http.openapi import AUTH, BODY, COMMON, errors_for

AwareDatetime = Annotated[datetime, Meta(tz=True)]
Text128 = Annotated[str, Meta(max_length=128)]
ReportId = Annotated[str, Parameter(description="a report id, `rpt_…`", max_length=200)]

_REPORT_RULES = (
    "report.standard_of_proof",
    "report.case_reference_conflict",
)


# What the ledger can store (a signed 64-bit integer): a larger number is a
# malformed body. The business bound, 1 to 10^12, is the domain's (422
# report.amount / report.amount_too_large), so that it names the rule broken.
INT64_MAX = 2**63 - 1


class AmountIn(Body):
    minor_units: Annotated[
        int,
        Meta(
            ge=-INT64_MAX,
            le=INT64_MAX,
            description=f"1 to {rules.MAX_AMOUNT_MINOR}, in the currency's minor units",
        ),
    ]
    currency: Annotated[ShortText, Meta(description="ISO 4217", examples=["CNY"])]


class StandardOfProofIn(Body):
    """All four must be ``true``."""

    reasonable_grounds: bool
    rigorous_evidence: bool
    recognised_category: bool
    action_taken: bool


class ReportIn(Body):
    case_reference: Annotated[Text128, Meta(description="the member's own id; idempotency key")]
    identifiers: Annotated[list[IdentifierIn], Meta(max_length=50, description="1 to 10 used")]
    category: Annotated[ShortText, Meta(examples=["ai_forged_evidence"])]
    amount: AmountIn
    order_date: date
    refund_date: date
    confirmed_at: AwareDatetime
    buyer_notified_at: AwareDatetime
    evidence_kinds: Annotated[
        list[ShortText],
        Meta(
            max_length=20,
            description="photo_forensics, ai_detector, carrier_record, packing_video, "
            "buyer_admission, police_report, court_judgment, other; ai_detector alone is refused",
        ),
    ]
    evidence_digest: Annotated[ShortText, Meta(description="unpadded base64url SHA-256")]
    standard_of_proof: StandardOfProofIn


class BulkIn(Body):
    reports: Annotated[list[ReportIn], Meta(description="1 to 10,000 reports, all or nothing")]


class RetractIn(Body):
    reason: Annotated[str, Meta(max_length=2000, description="1 to 500 characters once trimmed")]


def to_domain(body: ReportIn) -> rules.ReportInput:
    proof = body.standard_of_proof
    return rules.ReportInput(
        case_reference=body.case_reference,
        identifiers=tuple(rules.Identifier(i.kind, i.pseudonym) for i in body.identifiers),
        category=body.category,
        amount_minor=body.amount.minor_units,
        currency=body.amount.currency,
        order_date=body.order_date,
        refund_date=body.refund_date,
        confirmed_at=body.confirmed_at,
        buyer_notified_at=body.buyer_notified_at,
        evidence_kinds=tuple(body.evidence_kinds),
        evidence_digest=body.evidence_digest,
        standard_of_proof={
            "reasonable_grounds": proof.reasonable_grounds,
            "rigorous_evidence": proof.rigorous_evidence,
            "recognised_category": proof.recognised_category,
            "action_taken": proof.action_taken,
        },
    )


async def file_report(
    data: JSONBody[ReportIn], request: Request[Any, Any, Any]
) -> Response[ReportFiled]:
    """201 with the new report; 200 with the same answer when the case reference was filed."""
    caller = caller_of(request)
    rt = runtime(request)
    created, result = await rt.ledger.file(
        caller.principal_id,
        to_domain(data),
        request_digest=caller.request_digest,
        jti=caller.jti,
    )
    return answer(result, ReportFiled, status=201 if created else 200)


async def file_bulk(data: JSONBody[BulkIn], request: Request[Any, Any, Any]) -> Response[BulkFiled]:
    """201 when any report was new; 200 when every one had been filed before."""
    caller = caller_of(request)
    rt = runtime(request)
    result = await rt.ledger.file_bulk(
        caller.principal_id,
        [to_domain(r) for r in data.reports],
        request_digest=caller.request_digest,
        jti=caller.jti,
    )
    return answer(result, BulkFiled, status=201 if result["created"] else 200)


@get(
    "/v1/reports/{report_id:str}",
    tags=["reports"],
    summary="One of the caller's reports",
    responses=errors_for(AUTH, ("report.not_found",), COMMON),
    **signed(MEMBER),
)
async def get_report(report_id: ReportId, request: Request[Any, Any, Any]) -> Response[ReportView]:
    """Another member's report is a 404, as is a missing one. The read is logged."""
    caller = caller_of(request)
    rt = runtime(request)
    report = await rt.ledger.get(
        caller.principal_id,
        report_id,
        access_log=rt.access_log,
        request_digest=caller.request_digest,
        jti=caller.jti,
    )
    return answer(report, ReportView)


@post(
    "/v1/reports/{report_id:str}/retract",
    status_code=200,
    tags=["reports"],
    summary="Retract own report",
    responses=errors_for(
        AUTH, BODY, ("report.reason", "report.not_found", "report.not_retractable"), COMMON
    ),
    **signed(MEMBER),
)
async def retract_report(
    report_id: ReportId, data: JSONBody[RetractIn], request: Request[Any, Any, Any]
) -> Response[Retracted]:
    """Only an active or disputed report can be retracted; it stops counting at once."""
    caller = caller_of(request)
    rt = runtime(request)
    result = await rt.ledger.retract(
        caller.principal_id,
        report_id,
        data.reason,
        request_digest=caller.request_digest,
        jti=caller.jti,
    )
    return answer(result, Retracted)


def _feed_limit(name: str, message: str) -> RegistryError:
    return InvalidInput(f"limit must be 1 to 1000 ({message})", code="events.limit")


def _feed_cursor(name: str, message: str) -> RegistryError:
    return InvalidInput("'after' must be a cursor from an earlier page", code="events.cursor")


@get(
    "/v1/events",
    tags=["events"],
    summary="The caller's event feed, cursor-paged",
    responses=errors_for(AUTH, ("events.limit", "events.cursor"), COMMON),
    **signed(MEMBER, query_refusals={"limit": _feed_limit, "after": _feed_cursor}),
)
async def events(
    request: Request[Any, Any, Any],
    after: Annotated[
        str,
        Parameter(
            max_length=200,
            description="the `next_cursor` of the previous page; empty for the start",
        ),
    ] = "",
    limit: Annotated[int, Parameter(ge=1, le=1000, description="events per page")] = 100,
) -> Response[EventPage]:
    """At-least-once, stable cursors: an event committed late is never skipped."""
    caller = caller_of(request)
    rt = runtime(request)
    page = await rt.ledger.feed(caller.principal_id, after, limit, language=locale_of(request))
    return answer(page, EventPage)


def routes(max_bulk_body: int) -> list[Any]:
    """The report routes; the bulk route takes bodies up to ``max_bulk_body`` bytes."""
    return [
        post(
            "/v1/reports",
            status_code=201,
            tags=["reports"],
            summary="File one confirmed-fraud report",
            responses={
                200: ResponseSpec(
                    data_container=ReportFiled,
                    description="The case reference was already filed with this body: "
                    "the same answer as then",
                ),
                **errors_for(AUTH, BODY, _REPORT_RULES, COMMON),
            },
            **signed(MEMBER),
        )(file_report),
        post(
            "/v1/reports/bulk",
            status_code=201,
            tags=["reports"],
            summary="File up to 10,000 reports, all or nothing",
            request_max_body_size=max_bulk_body,
            responses={
                200: ResponseSpec(
                    data_container=BulkFiled, description="Every report had been filed before"
                ),
                **errors_for(
                    AUTH, BODY, ("bulk.size", "bulk.invalid_items"), _REPORT_RULES, COMMON
                ),
            },
            **signed(MEMBER),
        )(file_bulk),
        get_report,
        retract_report,
        events,
    ]
