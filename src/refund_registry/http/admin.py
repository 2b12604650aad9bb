"""Operator routes (role ``admin``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from refund_registry.http.answers import Principals
from refund_registry.http.common import ADMIN, answer, runtime, signed
from refund_registry.http.openapi import AUTH, COMMON, errors_for
from refund_registry.services import principals


@get(
    "/v1/admin/principals",
    tags=["admin"],
    summary="List principals and their active keys",
    responses=errors_for(AUTH, COMMON),
    **signed(ADMIN),
)
async def list_principals(request: Request[Any, Any, Any]) -> Response[Principals]:
    rt = runtime(request)
    return answer({"principals": await principals.list_all(rt.pool)}, Principals)


ROUTES = [list_principals]
