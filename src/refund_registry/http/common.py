"""Helpers every route uses: the runtime, the signed-request guard, JSON answers."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from msgspec import Meta, Struct

from refund_registry.domain.keyring import ROLES
from refund_registry.runtime import Runtime
from refund_registry.services.authn import Caller

MEMBER = frozenset({"member"})
ADJUDICATOR = frozenset({"adjudicator"})
AUDITOR = frozenset({"auditor"})
ADMIN = frozenset({"admin"})
ALL_ROLES = frozenset(ROLES)

ShortText = Annotated[str, Meta(max_length=200)]


class IdentifierIn(Struct, forbid_unknown_fields=True):
    """One ``{kind, pseudonym}`` of a report or a query, as the member sends it."""

    kind: ShortText
    pseudonym: ShortText


def runtime(request: Request[Any, Any, Any]) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def path_and_query(request: Request[Any, Any, Any]) -> str:
    """The request target as the client sent it: what ``htu`` must equal."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    query: bytes = request.scope.get("query_string", b"")
    target = raw.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


async def authenticate(
    request: Request[Any, Any, Any], roles: frozenset[str]
) -> tuple[Caller, bytes]:
    """The guard of every member, adjudicator, auditor and admin route.

    Reads the body (within the route's size limit) because the token binds to
    its digest; returns the caller and the exact body bytes.
    """
    body = await request.body()
    caller = await runtime(request).auth.request(
        request.headers.get("authorization"),
        method=request.method,
        path_and_query=path_and_query(request),
        body=body,
        roles=roles,
    )
    return caller, body


def json_response(content: Any, status: int = 200) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(content), status_code=status, media_type="application/json"
    )
