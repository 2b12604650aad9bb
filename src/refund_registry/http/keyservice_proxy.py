"""The key-service routes under the API's own base URL, so a member needs one URL.

The API forwards ``POST /v1/keyservice/evaluate`` and ``GET
/v1/keyservice/public-key`` to the key-service process *verbatim*: the same
path and query, the exact body bytes and the ``Authorization`` header. It does
not authenticate these requests itself, on purpose: the signed token binds
method, path and body, so the key service can verify it unchanged, and its
``jti`` is single-use, so checking it here would burn it before the key service
saw it. The API never holds the OPRF key; it only relays bytes.

One ``httpx.AsyncClient`` per app is shared by every forwarded request (its
connection pool is the point); it is created on first use and closed by
:func:`close` at shutdown. When the key service cannot be reached the answer is
503 ``keyservice.unavailable`` with ``Retry-After``; whatever the key service
answers (including its own problem documents) is passed through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx
from litestar import Litestar, Request, Response, get, post
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from refund_registry.config import Settings
from refund_registry.errors import Unavailable
from refund_registry.http.answers import Evaluated, KeyServicePublicKey
from refund_registry.http.common import EVALUATORS, SIGNED_REQUEST, path_and_query, runtime
from refund_registry.http.openapi import AUTH, BODY, RATE, errors_for
from refund_registry.keyservice import MAX_BODY_BYTES

STATE_KEY: Final = "keyservice_http"
"""``app.state`` attribute holding the shared client (tests put their own there)."""

RETRY_AFTER: Final = 2
PROBE_TIMEOUT: Final = 1.0
"""Seconds the readiness check waits for the key service's ``/health/live``."""
# Headers that carry meaning end to end; hop-by-hop and framing headers
# (Connection, Content-Length, Transfer-Encoding) are the transport's business.
_REQUEST_HEADERS: Final = ("authorization", "content-type", "accept")
_RESPONSE_HEADERS: Final = ("retry-after", "www-authenticate", "cache-control")


def keyservice_base_url(settings: Settings) -> str:
    """``settings.keyservice_url``, or the child process ``serve`` starts on this host."""
    if settings.keyservice_url:
        return settings.keyservice_url.rstrip("/")
    return f"http://{connectable_host(settings.host)}:{settings.keyservice_port}"


def connectable_host(host: str) -> str:
    """The listen address ``host`` as a URL's host to connect to on this machine.

    A wildcard listen address is not an address to connect to: it becomes the
    loopback address of its family; an IPv6 address is bracketed.
    """
    if host in ("", "0.0.0.0"):  # noqa: S104 - compared, not bound
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"[{host}]" if ":" in host else host


def shared_client(app: Litestar, settings: Settings) -> httpx.AsyncClient:
    """The app's one client of the key service, created on first use."""
    state = app.state
    client: httpx.AsyncClient | None = state.get(STATE_KEY)
    if client is None:
        # No await between the check and the assignment: two first requests in
        # one event loop cannot both create a client.
        client = httpx.AsyncClient(
            base_url=keyservice_base_url(settings),
            timeout=httpx.Timeout(10.0, connect=2.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        setattr(state, STATE_KEY, client)
    return client


def _client(request: Request[Any, Any, Any]) -> httpx.AsyncClient:
    return shared_client(request.app, runtime(request).settings)


async def probe(app: Litestar, settings: Settings) -> str:
    """Readiness of the key service: ``ok``, or ``degraded: <why>``.

    ``GET /health/live`` on the key service through the shared client, within
    :data:`PROBE_TIMEOUT` seconds (connecting included).
    """
    try:
        answer = await shared_client(app, settings).get("/health/live", timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"degraded: {exc.__class__.__name__}"
    if answer.status_code != 200:
        return f"degraded: HTTP {answer.status_code}"
    return "ok"


async def _forward(request: Request[Any, Any, Any]) -> Response[Any]:
    body = await request.body()
    headers = {name: request.headers[name] for name in _REQUEST_HEADERS if name in request.headers}
    try:
        upstream = await _client(request).request(
            request.method, path_and_query(request), content=body, headers=headers
        )
    except httpx.TransportError as exc:
        # Connection refused, timed out, or cut mid-answer: the member may
        # retry (with a fresh token, as every signed request needs).
        raise Unavailable(
            f"the key service is unreachable ({exc.__class__.__name__}); retry shortly",
            retry_after=RETRY_AFTER,
            code="keyservice.unavailable",
        ) from exc
    passed = {k: upstream.headers[k] for k in _RESPONSE_HEADERS if k in upstream.headers}
    return Response(
        content=upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/octet-stream"),
        headers=passed or None,
    )


_EVALUATE_BODY: Final = RequestBody(
    required=True,
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["blinded"],
                additional_properties=False,
                properties={
                    "blinded": Schema(
                        type=OpenAPIType.ARRAY,
                        min_items=1,
                        max_items=100,
                        items=Schema(
                            type=OpenAPIType.STRING,
                            description="a blinded ristretto255 element, unpadded base64url",
                        ),
                    )
                },
            )
        )
    },
)


@dataclass
class _EvaluateOperation(Operation):
    """The evaluate body, documented without decoding it: the bytes are relayed untouched."""

    def __post_init__(self) -> None:
        self.request_body = _EVALUATE_BODY


@post(
    "/v1/keyservice/evaluate",
    status_code=200,
    tags=["keyservice"],
    summary="Evaluate blinded elements (forwarded to the key service)",
    description=(
        "Signed member request, authenticated by the key service itself (so its `jti` is "
        "used once). RFC 9497 VOPRF, suite ristretto255-SHA512, one batched DLEQ proof. "
        "Problem documents of the key service (`keyservice.invalid_batch`, "
        "`keyservice.invalid_element`, …) are passed through."
    ),
    request_max_body_size=MAX_BODY_BYTES,
    operation_class=_EvaluateOperation,
    security=[{SIGNED_REQUEST: []}],
    responses=errors_for(AUTH, BODY, RATE, ("keyservice.unavailable",)),
    opt={"roles": EVALUATORS},
)
async def evaluate_proxy(request: Request[Any, Any, Any]) -> Response[Evaluated]:
    return await _forward(request)


@get(
    "/v1/keyservice/public-key",
    tags=["keyservice"],
    summary="The key service's public key (forwarded to the key service)",
    responses=errors_for(("keyservice.unavailable",)),
)
async def public_key_proxy(request: Request[Any, Any, Any]) -> Response[KeyServicePublicKey]:
    return await _forward(request)


async def close(app: Litestar) -> None:
    """Shutdown hook: close the shared client if one was opened."""
    client: httpx.AsyncClient | None = app.state.get(STATE_KEY)
    if client is not None:
        await client.aclose()
        setattr(app.state, STATE_KEY, None)


ROUTES = [evaluate_proxy, public_key_proxy]
