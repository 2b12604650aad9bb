"""Appeal routes.

Three kinds of caller: a buyer with a buyer session (file, read, withdraw),
the reporting member with a signed request (read, respond) and an adjudicator
with a signed request (read, decide). Whether *this* buyer or *this* member
may touch *this* appeal is the service's decision; a stranger gets the same
404 as for a missing appeal.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody, Parameter
from msgspec import Meta

from refund_registry.http.answers import AppealView
from refund_registry.http.common import (
    ADJUDICATOR,
    MEMBER,
    Body,
    ShortText,
    answer,
    buyer,
    buyer_or_signed,
    caller_of,
    party_of,
    runtime,
    signed,
    subject_from,
)
from refund_registry.http.openapi import AUTH, BODY, BUYER_AUTH, COMMON, errors_for

# Generous transport bounds (memory); the domain applies the real limits
# (2,000 characters) and answers with a specific 422 code.
LongText = Annotated[str, Meta(max_length=8000, description="1 to 2,000 characters")]
AppealId = Annotated[str, Parameter(description="an appeal id, `apl_…`", max_length=200)]

_STEP = ("appeal.not_found", "appeal.illegal_transition", "appeal.deadline_passed")


class AppealIn(Body):
    report_id: ShortText
    grounds: ShortText
    statement: LongText


class WithdrawIn(Body):
    """Nothing to say: the body may be empty or ``{}``."""


class ResponseIn(Body):
    action: Annotated[ShortText, Meta(description="retract or uphold")]
    summary: LongText | None = None


class DecisionIn(Body):
    outcome: Annotated[ShortText, Meta(description="upheld or overturned")]
    rationale: LongText


@post(
    "/v1/appeals",
    status_code=201,
    tags=["appeals"],
    summary="File an appeal against a report (buyer)",
    responses=errors_for(
        BUYER_AUTH,
        BODY,
        (
            "report.not_found",
            "appeal.invalid_grounds",
            "appeal.statement_length",
            "appeal.already_open",
            "appeal.report_not_appealable",
        ),
        COMMON,
    ),
    **buyer(),
)
async def file_appeal(
    data: JSONBody[AppealIn], request: Request[Any, Any, Any]
) -> Response[AppealView]:
    rt = runtime(request)
    subject = subject_from(request)
    result = await rt.parts.appeals.open(subject, data.report_id, data.grounds, data.statement)
    return answer(result, AppealView, status=201)


@get(
    "/v1/appeals/{appeal_id:str}",
    tags=["appeals"],
    summary="One appeal: state, deadlines, history",
    responses=errors_for(AUTH, BUYER_AUTH, ("appeal.not_found",), COMMON),
    **buyer_or_signed(MEMBER | ADJUDICATOR),
)
async def get_appeal(appeal_id: AppealId, request: Request[Any, Any, Any]) -> Response[AppealView]:
    """For the buyer, the reporting member or an adjudicator; anyone else gets a 404."""
    rt = runtime(request)
    return answer(await rt.parts.appeals.read(party_of(request), appeal_id), AppealView)


@post(
    "/v1/appeals/{appeal_id:str}/withdraw",
    status_code=200,
    tags=["appeals"],
    summary="Withdraw (buyer)",
    responses=errors_for(BUYER_AUTH, BODY, _STEP, COMMON),
    **buyer(),
)
async def withdraw_appeal(
    request: Request[Any, Any, Any], appeal_id: AppealId, data: JSONBody[WithdrawIn | None] = None
) -> Response[AppealView]:
    """The body may be empty or ``{}``."""
    rt = runtime(request)
    subject = subject_from(request)
    return answer(await rt.parts.appeals.withdraw(subject, appeal_id), AppealView)


@post(
    "/v1/appeals/{appeal_id:str}/response",
    status_code=200,
    tags=["appeals"],
    summary="Retract or uphold (reporting member)",
    responses=errors_for(
        AUTH,
        BODY,
        ("appeal.unknown_action", "appeal.summary_required", *_STEP, "appeal.report_closed"),
        COMMON,
    ),
    **signed(MEMBER),
)
async def respond_to_appeal(
    appeal_id: AppealId, data: JSONBody[ResponseIn], request: Request[Any, Any, Any]
) -> Response[AppealView]:
    caller = caller_of(request)
    rt = runtime(request)
    result = await rt.parts.appeals.respond(caller, appeal_id, data.action, data.summary)
    return answer(result, AppealView)


@post(
    "/v1/appeals/{appeal_id:str}/decision",
    status_code=200,
    tags=["appeals"],
    summary="Decide (adjudicator)",
    responses=errors_for(
        AUTH, BODY, ("appeal.rationale_length", *_STEP, "appeal.report_closed"), COMMON
    ),
    **signed(ADJUDICATOR),
)
async def decide_appeal(
    appeal_id: AppealId, data: JSONBody[DecisionIn], request: Request[Any, Any, Any]
) -> Response[AppealView]:
    caller = caller_of(request)
    rt = runtime(request)
    result = await rt.parts.appeals.decide(caller, appeal_id, data.outcome, data.rationale)
    return answer(result, AppealView)


ROUTES = [file_appeal, get_appeal, withdraw_appeal, respond_to_appeal, decide_appeal]
