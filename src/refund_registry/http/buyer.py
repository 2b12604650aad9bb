"""Buyer sign-in routes: ask for a code, open a session (code or hand-off), end it.

The identifier travels only in request bodies, never in a URL; the answers
never repeat it. The use cases, limits and refusals are the service's
(``services.buyer_signin``); the portal calls the same service.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, post
from litestar.params import JSONBody
from msgspec import Meta, Struct

from refund_registry import errors
from refund_registry.domain.buyer_access import CODE_LIFETIME
from refund_registry.domain.wire import iso
from refund_registry.http.common import (
    BUYER_SESSION,
    Body,
    answer,
    bearer_value,
    runtime,
)
from refund_registry.http.locale import locale_of
from refund_registry.http.openapi import BODY, CODE_SIGNIN, COMMON, HANDOFF, errors_for

Kind = Annotated[str, Meta(max_length=16, description="`phone` or `email`", examples=["phone"])]
Value = Annotated[
    str,
    Meta(
        max_length=1024,
        description="the phone number or e-mail address, in any usual spelling",
        examples=["138 1234 5678"],
    ),
]
Code = Annotated[str, Meta(max_length=32, description="the six digits received")]
Handoff = Annotated[
    str,
    Meta(max_length=8192, description="a member's subject token (`typ` `rr-subject+jwt`)"),
]


class CodeIn(Body):
    kind: Kind
    value: Value


class SessionIn(Body):
    """Either ``{kind, value, code}`` (a one-time code) or ``{handoff}`` (a subject token)."""

    kind: Kind | None = None
    value: Value | None = None
    code: Code | None = None
    handoff: Handoff | None = None


class CodeSent(Struct, forbid_unknown_fields=True):
    status: Annotated[str, Meta(description="always `sent`", examples=["sent"])]
    expires_in: Annotated[int, Meta(description="seconds the code stays valid")]


class SessionOpened(Struct, forbid_unknown_fields=True):
    session: Annotated[str, Meta(description="send as `Authorization: Bearer`; shown once")]
    expires_at: Annotated[str, Meta(description="the absolute end (RFC 3339, UTC)")]
    via_member: Annotated[
        str | None, Meta(description="the member that handed the buyer over; null: direct")
    ]


@post(
    "/v1/buyer/code",
    status_code=202,
    tags=["buyers"],
    summary="Send a one-time code to a phone number or e-mail address",
    responses=errors_for(
        BODY,
        ("buyer.kind", "buyer.value", "buyer.code_rate_limited", "keyservice.unavailable"),
        ("delivery.mail_unavailable", "delivery.sms_unavailable"),
        COMMON,
    ),
)
async def send_code(data: JSONBody[CodeIn], request: Request[Any, Any, Any]) -> Response[CodeSent]:
    """The same answer whether or not anything is on record about the identifier.

    Limits: one code per identifier a minute and 10 a day; 100 a day per
    client address. A refusal is 429 ``buyer.code_rate_limited``.
    """
    address = request.client.host if request.client else ""
    language = locale_of(request)
    await runtime(request).parts.buyers.send_code(data.kind, data.value, address, language=language)
    expires_in = int(CODE_LIFETIME.total_seconds())
    return answer({"status": "sent", "expires_in": expires_in}, CodeSent, status=202)


@post(
    "/v1/buyer/session",
    status_code=201,
    tags=["buyers"],
    summary="Open a buyer session with a one-time code or a member's hand-off",
    responses=errors_for(BODY, CODE_SIGNIN, HANDOFF, COMMON),
)
async def open_session(
    data: JSONBody[SessionIn], request: Request[Any, Any, Any]
) -> Response[SessionOpened]:
    """``{kind, value, code}`` or ``{handoff: <subject token>}``, not both.

    A subject token is exchanged once, and only if its member reported or
    queried one of its pseudonyms within 12 months.
    """
    buyers = runtime(request).parts.buyers
    direct = (data.kind, data.value, data.code)
    if data.handoff is not None and all(v is None for v in direct):
        opened = await buyers.open_with_handoff(data.handoff)
    elif data.handoff is None and data.kind and data.value and data.code is not None:
        opened = await buyers.open_with_code(data.kind, data.value, data.code)
    else:
        raise errors.MalformedBody("send either {kind, value, code} or {handoff}, not both")
    body = {
        "session": opened.session,
        "expires_at": iso(opened.expires_at),
        "via_member": opened.via_member,
    }
    response = answer(body, SessionOpened, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@delete(
    "/v1/buyer/session",
    status_code=204,
    tags=["buyers"],
    summary="End the buyer session",
    security=[{BUYER_SESSION: []}],
    responses=errors_for(("auth.missing",), COMMON),
)
async def close_session(request: Request[Any, Any, Any]) -> None:
    """Ending a session that is over already is not an error."""
    await runtime(request).parts.buyers.close(bearer_value(request))


ROUTES = [send_code, open_session, close_session]
