"""Appeal routes (SPEC sections 6 and 10).

Three kinds of caller, told apart by the token's ``typ``: a buyer with a
subject token (file, read, withdraw), the reporting member with a signed
request (read, respond) and an adjudicator with a signed request (read,
decide). Whether *this* buyer or *this* member may touch *this* appeal is the
service's decision; a stranger gets the same 404 as for a missing appeal.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from msgspec import Meta, Struct

from refund_registry.errors import AuthenticationFailed
from refund_registry.http.common import ADJUDICATOR, MEMBER, ShortText, authenticate, json_response
from refund_registry.http.problems import decode
from refund_registry.http.subject import appeal_service, subject_of
from refund_registry.services.appeals import Party

# Generous transport bounds (memory); the domain applies the real limits
# (2,000 characters) and answers with a specific 422 code.
LongText = Annotated[str, Meta(max_length=8000)]


class AppealIn(Struct, forbid_unknown_fields=True):
    report_id: ShortText
    grounds: ShortText
    statement: LongText


class WithdrawIn(Struct, forbid_unknown_fields=True):
    pass


class ResponseIn(Struct, forbid_unknown_fields=True):
    action: ShortText
    summary: LongText | None = None


class DecisionIn(Struct, forbid_unknown_fields=True):
    outcome: ShortText
    rationale: LongText


async def _party(request: Request[Any, Any, Any]) -> Party:
    """A buyer (subject token) or a member or adjudicator (signed request).

    The subject check fails at its first step, on the token's ``typ``, for a
    signed request, so trying it first costs nothing and never burns a jti.
    """
    try:
        return await subject_of(request)
    except AuthenticationFailed as exc:
        if exc.code != "auth.wrong_type":
            raise
    caller, _ = await authenticate(request, MEMBER | ADJUDICATOR)
    return caller


@post("/v1/appeals", tags=["appeals"], summary="File an appeal against a report (buyer)")
async def file_appeal(request: Request[Any, Any, Any]) -> Any:
    subject = await subject_of(request)
    body = decode(await request.body(), AppealIn)
    answer = await appeal_service(request).open(
        subject, body.report_id, body.grounds, body.statement
    )
    return json_response(answer, status=201)


@get(
    "/v1/appeals/{appeal_id:str}", tags=["appeals"], summary="One appeal: state, deadlines, history"
)
async def get_appeal(request: Request[Any, Any, Any]) -> Any:
    appeal_id: str = request.path_params["appeal_id"]
    party = await _party(request)
    return json_response(await appeal_service(request).read(party, appeal_id))


@post("/v1/appeals/{appeal_id:str}/withdraw", tags=["appeals"], summary="Withdraw (buyer)")
async def withdraw_appeal(request: Request[Any, Any, Any]) -> Any:
    """The body may be empty or ``{}``."""
    appeal_id: str = request.path_params["appeal_id"]
    subject = await subject_of(request)
    body = await request.body()
    if body.strip():
        decode(body, WithdrawIn)
    return json_response(await appeal_service(request).withdraw(subject, appeal_id))


@post(
    "/v1/appeals/{appeal_id:str}/response",
    tags=["appeals"],
    summary="Retract or uphold (reporting member)",
)
async def respond_to_appeal(request: Request[Any, Any, Any]) -> Any:
    appeal_id: str = request.path_params["appeal_id"]
    caller, raw = await authenticate(request, MEMBER)
    body = decode(raw, ResponseIn)
    answer = await appeal_service(request).respond(caller, appeal_id, body.action, body.summary)
    return json_response(answer)


@post("/v1/appeals/{appeal_id:str}/decision", tags=["appeals"], summary="Decide (adjudicator)")
async def decide_appeal(request: Request[Any, Any, Any]) -> Any:
    appeal_id: str = request.path_params["appeal_id"]
    caller, raw = await authenticate(request, ADJUDICATOR)
    body = decode(raw, DecisionIn)
    answer = await appeal_service(request).decide(caller, appeal_id, body.outcome, body.rationale)
    return json_response(answer)


ROUTES: list[Any] = [file_appeal, get_appeal, withdraw_appeal, respond_to_appeal, decide_appeal]
