"""Operator routes (role ``admin``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from refund_registry.http.common import ADMIN, authenticate, json_response, runtime
from refund_registry.services import principals


@get("/v1/admin/principals", tags=["admin"], summary="List principals and their active keys")
async def list_principals(request: Request[Any, Any, Any]) -> Any:
    await authenticate(request, ADMIN)
    return json_response({"principals": await principals.list_all(runtime(request).pool)})


ROUTES = [list_principals]
