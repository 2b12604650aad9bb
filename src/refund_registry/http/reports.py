"""Report ledger routes (role ``member``): intake, bulk, read, retract, event feed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from msgspec import Meta, Struct

from refund_registry.domain import reports as rules
from refund_registry.errors import InvalidInput
from refund_registry.http.common import (
    MEMBER,
    IdentifierIn,
    ShortText,
    authenticate,
    json_response,
    runtime,
)
from refund_registry.http.problems import decode

AwareDatetime = Annotated[datetime, Meta(tz=True)]
Text128 = Annotated[str, Meta(max_length=128)]


class AmountIn(Struct, forbid_unknown_fields=True):
    minor_units: int
    currency: ShortText


class StandardOfProofIn(Struct, forbid_unknown_fields=True):
    reasonable_grounds: bool
    rigorous_evidence: bool
    recognised_category: bool
    action_taken: bool


class ReportIn(Struct, forbid_unknown_fields=True):
    case_reference: Text128
    identifiers: Annotated[list[IdentifierIn], Meta(max_length=50)]
    category: ShortText
    amount: AmountIn
    order_date: date
    refund_date: date
    confirmed_at: AwareDatetime
    buyer_notified_at: AwareDatetime
    evidence_kinds: Annotated[list[ShortText], Meta(max_length=20)]
    evidence_digest: ShortText
    standard_of_proof: StandardOfProofIn


class BulkIn(Struct, forbid_unknown_fields=True):
    reports: list[ReportIn]


class RetractIn(Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=2000)]


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


@post("/v1/reports", tags=["reports"], summary="File one confirmed-fraud report")
async def file_report(request: Request[Any, Any, Any]) -> Any:
    """201 with the new report; 200 with the same answer when the case reference was filed."""
    caller, body = await authenticate(request, MEMBER)
    report = to_domain(decode(body, ReportIn))
    created, answer = await runtime(request).ledger.file(
        caller.principal_id, report, request_digest=caller.request_digest
    )
    return json_response(answer, status=201 if created else 200)


@post("/v1/reports/bulk", tags=["reports"], summary="File up to 10,000 reports, all or nothing")
async def file_bulk(request: Request[Any, Any, Any]) -> Any:
    caller, body = await authenticate(request, MEMBER)
    batch = decode(body, BulkIn)
    reports = [to_domain(r) for r in batch.reports]
    answer = await runtime(request).ledger.file_bulk(
        caller.principal_id, reports, request_digest=caller.request_digest
    )
    return json_response(answer, status=201 if answer["created"] else 200)


@get("/v1/reports/{report_id:str}", tags=["reports"], summary="One of the caller's reports")
async def get_report(request: Request[Any, Any, Any]) -> Any:
    report_id: str = request.path_params["report_id"]
    caller, _ = await authenticate(request, MEMBER)
    rt = runtime(request)
    report = await rt.ledger.get(
        caller.principal_id,
        report_id,
        access_log=rt.access_log,
        request_digest=caller.request_digest,
    )
    return json_response(report)


@post("/v1/reports/{report_id:str}/retract", tags=["reports"], summary="Retract own report")
async def retract_report(request: Request[Any, Any, Any]) -> Any:
    report_id: str = request.path_params["report_id"]
    caller, body = await authenticate(request, MEMBER)
    reason = decode(body, RetractIn).reason
    answer = await runtime(request).ledger.retract(
        caller.principal_id, report_id, reason, request_digest=caller.request_digest
    )
    return json_response(answer)


@get("/v1/events", tags=["events"], summary="The caller's event feed, cursor-paged")
async def events(request: Request[Any, Any, Any]) -> Any:
    caller, _ = await authenticate(request, MEMBER)
    after = request.query_params.get("after", "")
    raw_limit = request.query_params.get("limit", "100")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise InvalidInput("limit must be a whole number", code="events.limit") from None
    return json_response(await runtime(request).ledger.feed(caller.principal_id, after, limit))


def routes(max_bulk_body: int) -> list[Any]:
    file_bulk.request_max_body_size = max_bulk_body
    return [file_report, file_bulk, get_report, retract_report, events]
