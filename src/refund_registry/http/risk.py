"""Risk query routes (role ``member``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.params import HeaderParameter, JSONBody
from msgspec import Meta

from refund_registry.domain import inquiry
from refund_registry.domain.inquiry import QueryItem
from refund_registry.errors import InvalidInput
from refund_registry.http.answers import RiskAnswer, RiskBatchAnswer
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
from refund_registry.http.openapi import AUTH, BODY, COMMON, RATE, errors_for
from refund_registry.runtime import Runtime
from refund_registry.services.authn import Caller

_QUERY_ERRORS = ("query.purpose", "query.pseudonym", "query.receipt_version")

RECEIPT_VERSION_HEADER = "Registry-Receipt-Version"

ReceiptVersion = Annotated[
    str | None,
    HeaderParameter(
        name=RECEIPT_VERSION_HEADER,
        required=False,
        description=(
            "`2`: receipts signed once per group commit, each with its Merkle path "
            "(`v`, `index`, `tree_size`, `path`); `1` or absent: one signature per "
            "receipt (docs/contract.md, section 6)"
        ),
    ),
]


def receipt_version(value: str | None) -> int:
    """The receipt version the caller asked for: 1 unless the header says 2."""
    if value is None or value == "1":
        return 1
    if value == "2":
        return 2
    raise InvalidInput("Registry-Receipt-Version must be 1 or 2", code="query.receipt_version")


class QueryIn(Body):
    identifiers: Annotated[list[IdentifierIn], Meta(max_length=50, description="1 to 10 used")]
    purpose: Annotated[ShortText, Meta(examples=["refund_decision"])]


class BatchIn(Body):
    queries: Annotated[list[QueryIn], Meta(description=f"1 to {inquiry.MAX_BATCH:,} queries")]


def _item(body: QueryIn) -> QueryItem:
    return QueryItem(tuple([(i.kind, i.pseudonym) for i in body.identifiers]), body.purpose)


async def query_result(
    rt: Runtime, caller: Caller, data: QueryIn, *, locale: str, receipt: str | None
) -> dict[str, Any]:
    """The answer to one query: the route's work once its caller and body are known."""
    version = receipt_version(receipt)
    (result,) = await rt.risk.query(
        caller, [_item(data)], batch=False, locale=locale, receipt_version=version
    )
    return result


async def batch_result(
    rt: Runtime, caller: Caller, data: BatchIn, *, locale: str, receipt: str | None
) -> dict[str, Any]:
    """The answer to a batch: the route's work once its caller and body are known."""
    if not 1 <= len(data.queries) <= inquiry.MAX_BATCH:
        raise InvalidInput(
            f"a batch holds 1 to {inquiry.MAX_BATCH:,} queries", code="query.batch_size"
        )
    version = receipt_version(receipt)
    results = await rt.risk.query(
        caller,
        [_item(q) for q in data.queries],
        batch=True,
        locale=locale,
        receipt_version=version,
    )
    return {"results": results}


async def risk_query(
    data: JSONBody[QueryIn], request: Request[Any, Any, Any], receipt: ReceiptVersion = None
) -> Response[RiskAnswer]:
    """Score, band, reasons and counts for one buyer; answered once the inquiry is logged."""
    result = await query_result(
        runtime(request), caller_of(request), data, locale=locale_of(request), receipt=receipt
    )
    return answer(result, RiskAnswer)


async def risk_query_batch(
    data: JSONBody[BatchIn], request: Request[Any, Any, Any], receipt: ReceiptVersion = None
) -> Response[RiskBatchAnswer]:
    """Up to 1,000 queries; ``results`` in request order. One bad query refuses the batch."""
    result = await batch_result(
        runtime(request), caller_of(request), data, locale=locale_of(request), receipt=receipt
    )
    return answer(result, RiskBatchAnswer)


def routes(max_bulk_body: int) -> list[Any]:
    """The risk routes; the batch route takes bodies up to ``max_bulk_body`` bytes."""
    return [
        post(
            "/v1/risk/query",
            status_code=200,
            tags=["risk"],
            summary="Score one buyer at refund time",
            responses=errors_for(AUTH, BODY, _QUERY_ERRORS, RATE, COMMON),
            **signed(MEMBER),
        )(risk_query),
        post(
            "/v1/risk/query/batch",
            status_code=200,
            tags=["risk"],
            summary="Score up to 1,000 buyers in one request",
            request_max_body_size=max_bulk_body,
            responses=errors_for(AUTH, BODY, ("query.batch_size", *_QUERY_ERRORS), RATE, COMMON),
            **signed(MEMBER),
        )(risk_query_batch),
    ]
