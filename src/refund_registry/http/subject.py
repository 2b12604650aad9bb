"""Buyer routes: the subject record and the buyer's statement.

A buyer authenticates with a buyer session (``Authorization: Bearer rrs_…``),
opened with a one-time code or by exchanging a member's hand-off once
(``http/buyer.py``). What it grants is fixed by the identifiers it proved,
and nothing else. Every read is logged and listed in the buyer's inquiries; in
a session a member handed over it is logged under that member and counts
against its query quota.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody
from msgspec import Meta

from refund_registry.http.answers import StatementSet, SubjectRecord
from refund_registry.http.common import Body, answer, buyer, runtime, subject_from
from refund_registry.http.openapi import BODY, BUYER_AUTH, COMMON, RATE, errors_for

# Generous transport bounds (memory); the service applies the real limits and
# answers with a specific 422 code rather than a generic malformed-body 400.
StatementText = Annotated[
    str, Meta(max_length=4000, description="at most 200 characters; `null` removes it")
]


class StatementIn(Body):
    statement: StatementText | None


@get(
    "/v1/subject/record",
    tags=["buyers"],
    summary="The buyer's record: reports, inquiries, appeals",
    responses=errors_for(BUYER_AUTH, RATE, COMMON),
    **buyer(),
)
async def subject_record(request: Request[Any, Any, Any]) -> Response[SubjectRecord]:
    """Reports on the session's identifiers, inquiries of the last 12 months, appeals."""
    rt = runtime(request)
    subject = subject_from(request)
    return answer(await rt.parts.appeals.record(subject), SubjectRecord)


@post(
    "/v1/subject/statement",
    status_code=200,
    tags=["buyers"],
    summary="Attach a statement after an upheld appeal",
    responses=errors_for(
        BUYER_AUTH,
        BODY,
        ("subject.statement_length", "subject.statement_not_allowed"),
        COMMON,
    ),
    **buyer(),
)
async def subject_statement(
    data: JSONBody[StatementIn], request: Request[Any, Any, Any]
) -> Response[StatementSet]:
    """At most 200 characters, shown with the score; ``null`` removes it."""
    rt = runtime(request)
    subject = subject_from(request)
    return answer(await rt.parts.appeals.set_statement(subject, data.statement), StatementSet)


ROUTES = [subject_record, subject_statement]
