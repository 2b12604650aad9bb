"""Risk query routes (role ``member``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from msgspec import Meta, Struct

from refund_registry.domain import inquiry
from refund_registry.domain.inquiry import QueryItem
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


class QueryIn(Struct, forbid_unknown_fields=True):
    identifiers: Annotated[list[IdentifierIn], Meta(max_length=50)]
    purpose: ShortText


class BatchIn(Struct, forbid_unknown_fields=True):
    queries: list[QueryIn]


def _item(body: QueryIn) -> QueryItem:
    return QueryItem(tuple((i.kind, i.pseudonym) for i in body.identifiers), body.purpose)


@post("/v1/risk/query", tags=["risk"], summary="Score one buyer at refund time")
async def risk_query(request: Request[Any, Any, Any]) -> Any:
    caller, body = await authenticate(request, MEMBER)
    item = _item(decode(body, QueryIn))
    rt = runtime(request)
    await rt.limit_queries(caller.principal_id, 1)
    (answer,) = await rt.risk.query(caller, [item], batch=False)
    return json_response(answer)


@post("/v1/risk/query/batch", tags=["risk"], summary="Score up to 1,000 buyers in one request")
async def risk_query_batch(request: Request[Any, Any, Any]) -> Any:
    caller, body = await authenticate(request, MEMBER)
    batch = decode(body, BatchIn)
    if not 1 <= len(batch.queries) <= inquiry.MAX_BATCH:
        raise InvalidInput(
            f"a batch holds 1 to {inquiry.MAX_BATCH:,} queries", code="query.batch_size"
        )
    rt = runtime(request)
    await rt.limit_queries(caller.principal_id, len(batch.queries))
    answers = await rt.risk.query(caller, [_item(q) for q in batch.queries], batch=True)
    return json_response({"results": answers})


def routes(max_bulk_body: int) -> list[Any]:
    risk_query_batch.request_max_body_size = max_bulk_body
    return [risk_query, risk_query_batch]
