"""Webhook routes (role ``member``): register, list, rotate, enable, delete, delivery log.

A member's events are POSTed to each of its endpoints as Standard Webhooks
messages (``services.webhooks``). Another member's endpoint is a 404, as an
unknown one is.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.params import JSONBody, Parameter
from msgspec import Meta

from refund_registry.domain import webhooks as rules
from refund_registry.errors import InvalidInput, RegistryError
from refund_registry.http.answers import Answer, Time
from refund_registry.http.common import MEMBER, Body, answer, caller_of, runtime, signed
from refund_registry.http.openapi import AUTH, BODY, COMMON, errors_for
from refund_registry.services.webhooks import WebhookService

WebhookId = Annotated[str, Parameter(description="a webhook id, `whk_…`", max_length=200)]
Secret = Annotated[
    str,
    Meta(
        description="`whsec_` and the standard base64 of 32 random bytes: shown once, keep it",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ),
]

_URL_RULES = (
    "webhook.url",
    "webhook.url_https",
    "webhook.url_address",
    "webhook.url_unresolvable",
)


class WebhookIn(Body):
    url: Annotated[
        str,
        Meta(
            max_length=4096,
            description=f"absolute https URL (http outside production), at most "
            f"{rules.URL_MAX} characters, no credentials or fragment; its host must be "
            "public",
            examples=["https://shop.example/hooks/refund-registry"],
        ),
    ]
    after: (
        Annotated[
            str,
            Meta(
                max_length=200,
                description='deliver the events after this feed cursor; `""` for the whole '
                "feed; absent: only events from now on",
            ),
        ]
        | None
    ) = None


class WebhookCreated(Answer):
    id: str
    url: str
    secret: Secret
    status: str
    created_at: Time
    position: Annotated[str, Meta(description="the feed cursor deliveries start after")]


class WebhookView(Answer):
    id: str
    url: str
    status: Annotated[str, Meta(description="`active` or `disabled`")]
    created_at: Time
    rotated_at: Time | None
    previous_secret_until: Annotated[
        Time | None, Meta(description="until then deliveries carry the old secret's signature too")
    ]
    disabled_at: Time | None
    disabled_reason: Annotated[str | None, Meta(description="`retries_exhausted` or `gone`")]
    position: Annotated[str, Meta(description="the feed cursor of the last event delivered")]
    failed_attempts: Annotated[int, Meta(description="failed attempts at the next event")]
    next_attempt_at: Time


class WebhookList(Answer):
    webhooks: list[WebhookView]
    limit: Annotated[int, Meta(description="how many endpoints a member may register")]


class SecretRotated(Answer):
    id: str
    secret: Secret
    rotated_at: Time
    previous_secret_until: Time


class DeliveryAttempt(Answer):
    id: Annotated[str, Meta(description="pass as `after` to resume after this entry")]
    event_cursor: Annotated[str, Meta(description="the feed cursor of the event sent")]
    attempt: Annotated[int, Meta(description="1 for the first attempt at this event")]
    at: Time
    status_code: Annotated[int | None, Meta(description="the receiver's HTTP status")]
    error: Annotated[
        str | None,
        Meta(
            description="without an answer: `timeout`, `connection`, `tls`, `dns`, "
            "`address_refused`, `protocol` or `invalid_url`"
        ),
    ]
    outcome: Annotated[str, Meta(description="`delivered`, `retry` or `disabled`")]
    next_attempt_at: Time | None
    duration_ms: int


class DeliveryPage(Answer):
    deliveries: list[DeliveryAttempt]
    next_cursor: str


def _webhooks(request: Request[Any, Any, Any]) -> WebhookService:
    return runtime(request).parts.webhooks


@post(
    "/v1/webhooks",
    status_code=201,
    tags=["webhooks"],
    summary="Register an endpoint for the caller's events",
    responses=errors_for(AUTH, BODY, _URL_RULES, ("webhook.too_many", "events.cursor"), COMMON),
    **signed(MEMBER),
)
async def register_webhook(
    data: JSONBody[WebhookIn], request: Request[Any, Any, Any]
) -> Response[WebhookCreated]:
    """The answer holds the signing secret; it is shown this once and never again."""
    caller = caller_of(request)
    created = await _webhooks(request).register(caller.principal_id, data.url, data.after)
    return answer(created, WebhookCreated, status=201)


@get(
    "/v1/webhooks",
    tags=["webhooks"],
    summary="The caller's endpoints (without secrets)",
    responses=errors_for(AUTH, COMMON),
    **signed(MEMBER),
)
async def list_webhooks(request: Request[Any, Any, Any]) -> Response[WebhookList]:
    caller = caller_of(request)
    return answer(await _webhooks(request).list(caller.principal_id), WebhookList)


@delete(
    "/v1/webhooks/{webhook_id:str}",
    status_code=204,
    tags=["webhooks"],
    summary="Delete an endpoint and its delivery log",
    responses=errors_for(AUTH, ("webhook.not_found",), COMMON),
    **signed(MEMBER),
)
async def delete_webhook(webhook_id: WebhookId, request: Request[Any, Any, Any]) -> None:
    caller = caller_of(request)
    await _webhooks(request).delete(caller.principal_id, webhook_id)


@post(
    "/v1/webhooks/{webhook_id:str}/rotate",
    status_code=200,
    tags=["webhooks"],
    summary="A new signing secret; the old one keeps signing for 24 hours",
    responses=errors_for(AUTH, ("webhook.not_found",), COMMON),
    **signed(MEMBER),
)
async def rotate_webhook_secret(
    webhook_id: WebhookId, request: Request[Any, Any, Any]
) -> Response[SecretRotated]:
    """For 24 hours every delivery carries two signatures, by the new and the old
    secret, space-separated in ``webhook-signature``."""
    caller = caller_of(request)
    return answer(await _webhooks(request).rotate(caller.principal_id, webhook_id), SecretRotated)


@post(
    "/v1/webhooks/{webhook_id:str}/enable",
    status_code=200,
    tags=["webhooks"],
    summary="Resume a disabled endpoint with the event it failed on",
    responses=errors_for(AUTH, ("webhook.not_found", "webhook.not_disabled"), COMMON),
    **signed(MEMBER),
)
async def enable_webhook(
    webhook_id: WebhookId, request: Request[Any, Any, Any]
) -> Response[WebhookView]:
    caller = caller_of(request)
    return answer(await _webhooks(request).enable(caller.principal_id, webhook_id), WebhookView)


def _log_limit(name: str, message: str) -> RegistryError:
    return InvalidInput(
        f"limit must be 1 to {rules.MAX_PAGE} ({message})", code="webhook.page_limit"
    )


def _log_cursor(name: str, message: str) -> RegistryError:
    return InvalidInput("'after' must be a cursor from an earlier page", code="webhook.cursor")


@get(
    "/v1/webhooks/{webhook_id:str}/deliveries",
    tags=["webhooks"],
    summary="An endpoint's delivery log, cursor-paged, oldest first (30 days)",
    responses=errors_for(
        AUTH, ("webhook.not_found", "webhook.page_limit", "webhook.cursor"), COMMON
    ),
    **signed(MEMBER, query_refusals={"limit": _log_limit, "after": _log_cursor}),
)
async def webhook_deliveries(
    webhook_id: WebhookId,
    request: Request[Any, Any, Any],
    after: Annotated[
        str,
        Parameter(
            max_length=40, description="the `next_cursor` of the previous page; empty for the start"
        ),
    ] = "",
    limit: Annotated[int, Parameter(ge=1, le=rules.MAX_PAGE, description="entries per page")] = 100,
) -> Response[DeliveryPage]:
    caller = caller_of(request)
    page = await _webhooks(request).deliveries(caller.principal_id, webhook_id, after, limit)
    return answer(page, DeliveryPage)


ROUTES = [
    register_webhook,
    list_webhooks,
    delete_webhook,
    rotate_webhook_secret,
    enable_webhook,
    webhook_deliveries,
]
