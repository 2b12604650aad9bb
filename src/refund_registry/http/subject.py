"""Buyer routes: the subject record and the buyer's statement (SPEC sections 6 and 10).

A buyer authenticates with a subject token (``typ rr-subject+jwt``) issued by a
member that signed them in. The token is a bearer credential reusable until it
expires, so it is not bound to the request; what it grants is fixed by the
pseudonyms it names, and nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from msgspec import Meta, Struct

from refund_registry.http.common import json_response, runtime
from refund_registry.http.problems import decode
from refund_registry.services.appeals import AppealService, Subject

# Generous transport bounds (memory); the service applies the real limits and
# answers with a specific 422 code rather than a generic malformed-body 400.
StatementText = Annotated[str, Meta(max_length=4000)]


class StatementIn(Struct, forbid_unknown_fields=True):
    statement: StatementText | None


def appeal_service(request: Request[Any, Any, Any]) -> AppealService:
    return runtime(request).parts.appeals


async def subject_of(request: Request[Any, Any, Any]) -> Subject:
    """The guard of every buyer route: a verified subject token, mapped to subject keys."""
    caller, pseudonyms = await runtime(request).auth.subject(request.headers.get("authorization"))
    return appeal_service(request).subject(caller, pseudonyms)


@get(
    "/v1/subject/record", tags=["buyers"], summary="The buyer's record: reports, inquiries, appeals"
)
async def subject_record(request: Request[Any, Any, Any]) -> Any:
    """Reports on the token's identifiers, inquiries of the last 12 months, appeals."""
    subject = await subject_of(request)
    return json_response(await appeal_service(request).record(subject))


@post("/v1/subject/statement", tags=["buyers"], summary="Attach a statement after an upheld appeal")
async def subject_statement(request: Request[Any, Any, Any]) -> Any:
    """At most 200 characters, shown with the score; ``null`` removes it."""
    subject = await subject_of(request)
    body = decode(await request.body(), StatementIn)
    return json_response(await appeal_service(request).set_statement(subject, body.statement))


ROUTES: list[Any] = [subject_record, subject_statement]
