"""What the OpenAPI document at ``/schema`` says beyond the handler signatures.

The problem-document schema and, per route, an example of every error it can
answer with; the two bearer-token security schemes; the document's own
configuration (title, description, the package version).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from typing import Annotated, Any, Final

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, Example, SecurityScheme
from msgspec import Meta, Struct

from refund_registry import errors
from refund_registry.http.common import BUYER_SESSION, SIGNED_REQUEST
from refund_registry.http.problems import PROBLEM_BASE, PROBLEM_JSON


class Violation(Struct):
    code: str
    field: str
    detail: str


class Problem(Struct):
    """An RFC 9457 problem document; ``code`` is stable and machine-readable."""

    type: Annotated[str, Meta(description="a URI naming the problem: the base URI plus `code`")]
    title: str
    status: int
    detail: Annotated[str, Meta(description="for humans; never parse it")]
    code: Annotated[str, Meta(description="stable; every code is listed in docs/errors.md")]
    instance: str | None = None
    violations: Annotated[
        list[Violation] | None, Meta(description="every rule a report or query breaks")
    ] = None
    invalid_items: Annotated[
        list[dict[str, Any]] | None,
        Meta(description="bulk: the index and reasons of each bad item"),
    ] = None
    retry_after: Annotated[int | None, Meta(description="seconds; also in `Retry-After`")] = None


# code -> (the error class that carries its status and title, an example detail)
_EXAMPLES: Final[dict[str, tuple[type[errors.RegistryError], str]]] = {
    "auth.missing": (errors.AuthenticationFailed, "send 'Authorization: Bearer <signed JWT>'"),
    "auth.expired": (errors.AuthenticationFailed, "the token has expired"),
    "auth.replayed": (errors.AuthenticationFailed, "this token's 'jti' has already been used"),
    "auth.body_mismatch": (errors.AuthenticationFailed, "'bsh' does not match the body"),
    "auth.path_mismatch": (errors.AuthenticationFailed, "'htu' does not match the request"),
    "auth.bad_signature": (errors.AuthenticationFailed, "the signature does not verify"),
    "auth.wrong_type": (errors.AuthenticationFailed, "this route takes a subject token"),
    "auth.replay_guard_unavailable": (
        errors.Unavailable,
        "the replay guard is unavailable; retry shortly",
    ),
    "auth.forbidden_role": (errors.Forbidden, "role 'auditor' may not use this route"),
    "request.invalid_body": (
        errors.MalformedBody,
        "the body does not match the schema: Object contains unknown field `colour`",
    ),
    "request.invalid_query": (
        errors.MalformedBody,
        "query parameter 'tree_size': Expected `int`, got `str`",
    ),
    "request.value_out_of_range": (
        errors.InvalidInput,
        "tree_size=99999999999999999999 is beyond any size this log can reach",
    ),
    "request.too_large": (errors.PayloadTooLarge, "Request Entity Too Large"),
    "report.standard_of_proof": (
        errors.InvalidInput,
        "all four parts must be attested; not attested: action_taken",
    ),
    "report.case_reference_conflict": (
        errors.Conflict,
        "case reference 'RF-2026-000123' was filed with a different body",
    ),
    "report.not_found": (errors.NotFound, "no report 'rpt_…'"),
    "report.reason": (errors.InvalidInput, "reason must be 1 to 500 characters"),
    "report.not_retractable": (errors.Conflict, "a retracted report cannot be retracted"),
    "report.changed": (errors.Conflict, "the report changed concurrently; retry"),
    "bulk.size": (errors.InvalidInput, "a bulk upload holds 1 to 10000 reports"),
    "bulk.invalid_items": (errors.InvalidInput, "2 of 10000 reports are invalid"),
    "query.purpose": (errors.InvalidInput, "state a purpose, one of account_review, …"),
    "query.pseudonym": (errors.InvalidInput, "must be 86 base64url characters (64 bytes)"),
    "query.batch_size": (errors.InvalidInput, "a batch holds 1 to 1,000 queries"),
    "query.receipt_version": (errors.InvalidInput, "Registry-Receipt-Version must be 1 or 2"),
    "events.limit": (errors.InvalidInput, "limit must be 1 to 1000"),
    "events.cursor": (errors.InvalidInput, "'after' must be a cursor from an earlier page"),
    "page.cursor": (errors.InvalidCursor, "'after' must be a cursor from an earlier page"),
    "page.limit": (errors.InvalidInput, "limit must be 1 to 200"),
    "queue.state": (errors.InvalidInput, "state: must be one of awaiting_adjudication, …"),
    "queue.due_before": (errors.InvalidInput, "due_before: must be a time with a UTC offset"),
    "report.status_filter": (errors.InvalidInput, "status: must be one of active, …"),
    "rate.limited": (errors.RateLimited, "more than 50 queries per second"),
    "rate.quota_exhausted": (errors.RateLimited, "the daily query quota is used up"),
    "db.unavailable": (errors.Unavailable, "PostgreSQL is unreachable"),
    "keyservice.unavailable": (errors.Unavailable, "the key service is unreachable; retry"),
    "appeal.not_found": (errors.NotFound, "no appeal 'apl_…'"),
    "appeal.already_open": (errors.Conflict, "this report already has an open appeal"),
    "appeal.report_not_appealable": (errors.Conflict, "a retracted report cannot be appealed"),
    "appeal.report_closed": (errors.Conflict, "the report is no longer disputed"),
    "appeal.invalid_grounds": (errors.InvalidInput, "grounds must be one of …"),
    "appeal.statement_length": (errors.InvalidInput, "the statement must hold 1-2000 characters"),
    "appeal.illegal_transition": (errors.Conflict, "an appeal in state 'withdrawn' cannot …"),
    "appeal.deadline_passed": (errors.Conflict, "the member's response deadline has passed"),
    "appeal.unknown_action": (errors.InvalidInput, "action must be retract or uphold"),
    "appeal.summary_required": (errors.InvalidInput, "upholding needs a summary"),
    "appeal.rationale_length": (errors.InvalidInput, "the rationale must hold 1-2000 characters"),
    "subject.statement_length": (errors.InvalidInput, "a statement holds at most 200 characters"),
    "subject.statement_not_allowed": (
        errors.Conflict,
        "a statement follows an appeal decided against you",
    ),
    "audit.no_checkpoint": (errors.NotFound, "no checkpoint has been signed yet"),
    "audit.no_witnessed_checkpoint": (errors.NotFound, "no checkpoint has 2 cosignatures yet"),
    "audit.tile_path": (errors.MalformedBody, "the tile index is not in x000/…/000 groups"),
    "audit.tile_not_found": (
        errors.NotFound,
        "tile 0/001 needs 512 leaves; the checkpoint has 300",
    ),
    "audit.witnessed": (errors.InvalidInput, "witnessed=3 is more than the 2 configured witnesses"),
    "audit.tree_size": (errors.InvalidInput, "tree_size must be 1 to the latest checkpoint's"),
    "audit.leaf_not_found": (errors.NotFound, "no entry with this leaf hash was ever logged"),
    "audit.leaf_not_sequenced": (errors.NotFound, "the entry is not sequenced yet; retry"),
    "audit.leaf_not_in_tree": (errors.NotFound, "the entry is beyond this tree size"),
    "audit.consistency_sizes": (errors.InvalidInput, "first must not exceed second"),
    "audit.limit": (errors.InvalidInput, "limit must be between 1 and 1000"),
    "audit.action": (errors.InvalidInput, "action must be one of …"),
    "audit.time_range": (errors.InvalidInput, "since must be earlier than until"),
    "auth.operator_only": (errors.Forbidden, "metrics are served to the operator only"),
    "auth.metrics_token": (errors.AuthenticationFailed, "the metrics token is wrong"),
    "auth.lifetime": (errors.AuthenticationFailed, "'exp' must be at most 600 s after 'iat'"),
    "auth.pseudonym": (errors.AuthenticationFailed, "pseudonyms[0] must have a known kind"),
    "buyer.kind": (errors.InvalidInput, "kind must be phone or email"),
    "buyer.value": (errors.InvalidInput, "not a valid phone number"),
    "buyer.code_rate_limited": (errors.RateLimited, "too many codes asked for; try again later"),
    "buyer.code_wrong": (errors.AuthenticationFailed, "the code is not the one sent"),
    "buyer.code_expired": (errors.AuthenticationFailed, "the code has expired"),
    "buyer.code_locked": (errors.AuthenticationFailed, "too many wrong tries: this code is locked"),
    "buyer.session_unknown": (errors.AuthenticationFailed, "no such buyer session"),
    "buyer.session_expired": (errors.AuthenticationFailed, "the buyer session has ended"),
    "subject.handoff_used": (
        errors.AuthenticationFailed,
        "this subject token was exchanged before",
    ),
    "subject.no_relationship": (
        errors.Forbidden,
        "this member has neither reported nor queried this buyer in the last 12 months",
    ),
    "delivery.mail_unavailable": (errors.Unavailable, "the mail server did not take the message"),
    "delivery.sms_unavailable": (errors.Unavailable, "the SMS gateway did not answer"),
    "webhook.url": (errors.InvalidInput, "the URL must start with https://"),
    "webhook.url_https": (errors.InvalidInput, "endpoints must use https://"),
    "webhook.url_address": (
        errors.InvalidInput,
        "the URL's host is, or resolves to, an address that is not public",
    ),
    "webhook.url_unresolvable": (errors.InvalidInput, "the URL's host name does not resolve"),
    "webhook.too_many": (errors.Conflict, "a member may register at most 10 endpoints"),
    "webhook.not_found": (errors.NotFound, "no webhook 'whk_…'"),
    "webhook.not_disabled": (errors.Conflict, "the webhook is not disabled"),
    "webhook.cursor": (errors.InvalidInput, "'after' must be a cursor from an earlier page"),
    "webhook.page_limit": (errors.InvalidInput, "limit must be 1 to 1000"),
}

AUTH: Final = (
    "auth.missing",
    "auth.expired",
    "auth.replayed",
    "auth.body_mismatch",
    "auth.path_mismatch",
    "auth.bad_signature",
    "auth.forbidden_role",
    "auth.replay_guard_unavailable",
)
BUYER_AUTH: Final = (
    "auth.missing",
    "auth.wrong_type",
    "buyer.session_unknown",
    "buyer.session_expired",
)
HANDOFF: Final = (
    "auth.expired",
    "auth.bad_signature",
    "auth.lifetime",
    "auth.pseudonym",
    "subject.handoff_used",
    "subject.no_relationship",
)
CODE_SIGNIN: Final = ("buyer.kind", "buyer.value", "buyer.code_wrong", "buyer.code_expired",
                      "buyer.code_locked", "keyservice.unavailable")  # fmt: skip
BODY: Final = ("request.invalid_body", "request.too_large")
COMMON: Final = ("db.unavailable",)
RATE: Final = ("rate.limited", "rate.quota_exhausted")


def problem_example(code: str) -> dict[str, Any]:
    cls, detail = _EXAMPLES[code]
    example: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": cls.title,
        "status": cls.status,
        "detail": detail,
        "code": code,
    }
    if issubclass(cls, errors.RateLimited | errors.Unavailable):
        example["retry_after"] = 5 if cls is errors.Unavailable else 1
    return example


def status_of(code: str) -> int:
    return _EXAMPLES[code][0].status


def errors_for(*groups: Iterable[str]) -> dict[int, ResponseSpec]:
    """The error answers of a route: per status, the problem schema and an example per code."""
    by_status: dict[int, list[str]] = {}
    for group in groups:
        for code in group:
            codes = by_status.setdefault(status_of(code), [])
            if code not in codes:
                codes.append(code)
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            generate_examples=False,
            description="Problem document (RFC 9457): " + ", ".join(codes),
            examples=[Example(summary=code, value=problem_example(code)) for code in codes],
        )
        for status, codes in sorted(by_status.items())
    }


SECURITY_SCHEMES: Final = {
    SIGNED_REQUEST: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description=(
            "A fresh single-use compact JWS per request. Header: `alg` EdDSA or ES256 (pinned "
            "per registered key), `kid` a registered key of the principal, `typ` "
            "`rr-req+jwt`. Claims: `iss` the principal id; `aud` the registry's audience "
            "(default `refund-registry`); `iat`; `exp` at most 120 s after `iat`; `jti` "
            "single use; `htm` the HTTP method; `htu` the path and query as sent (RFC 9449); "
            "`bsh` the unpadded base64url SHA-256 of the exact body bytes (of the empty "
            "string for a body-less request). Any failed check is a 401 problem whose "
            "`code` names it (`auth.expired`, `auth.replayed`, `auth.body_mismatch`, …)."
        ),
    ),
    BUYER_SESSION: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="opaque",
        description=(
            "A buyer session (`rrs_…`), opened by `POST /v1/buyer/session` with a one-time "
            "code or by exchanging, once, a member's subject token (`typ` `rr-subject+jwt`, "
            "at most 10 minutes, from a member that reported or queried the buyer within "
            "12 months). It ends after 15 minutes idle or 1 hour, or at "
            "`DELETE /v1/buyer/session`. A subject token itself is refused here "
            "(`auth.wrong_type`)."
        ),
    ),
}


def package_version() -> str:
    try:
        return metadata.version("refund-registry")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Refund Registry",
        version=package_version(),
        description=(
            "A shared ledger of confirmed refund fraud. Member, adjudicator, auditor and "
            "admin routes take a signed request (security scheme `signedRequest`); buyer "
            "routes take a buyer session (`buyerSession`). Every error is an RFC 9457 "
            "problem document (`application/problem+json`) with a stable `code`."
        ),
        path="/schema",
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
    )
