"""The answers of the API, as the OpenAPI document describes them.

Services build answers as plain JSON values and the routes send them as they
are; these structs are their documented shape (``tests/api/test_openapi.py``
decodes real answers with them, unknown fields refused, so a drift shows).
Times are RFC 3339 strings in UTC; binary values are unpadded base64url.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct

Time = Annotated[str, Meta(description="RFC 3339 time, UTC", examples=["2026-11-20T10:00:00Z"])]
Day = Annotated[str, Meta(description="a calendar date, YYYY-MM-DD", examples=["2026-11-01"])]
B64 = Annotated[str, Meta(description="unpadded base64url")]


class Answer(Struct, forbid_unknown_fields=True):
    """Base of the documented answers."""


class Receipt(Answer):
    """The log's signed promise that an access-log entry will be included.

    Version 1 (the default) has the first three fields and a signature of its
    own. Version 2 (risk queries asked with ``Registry-Receipt-Version: 2``)
    adds ``v``, ``index``, ``tree_size`` and ``path``, and its signature covers
    the root of the Merkle tree of every receipt of one group commit.
    """

    leaf_hash: Annotated[str, Meta(description="RFC 9162 leaf hash, unpadded base64url")]
    logged_at: Time
    signature: Annotated[
        str,
        Meta(
            description="Ed25519 signature by the log key, base64url: over this receipt "
            "(version 1) or over the root of its group commit's receipt tree (version 2)"
        ),
    ]
    v: Annotated[int | None, Meta(description="2 for a version-2 receipt; absent: version 1")] = (
        None
    )
    index: Annotated[int | None, Meta(description="version 2: the leaf's index in the tree")] = None
    tree_size: Annotated[
        int | None, Meta(description="version 2: leaves in the group commit's receipt tree")
    ] = None
    path: Annotated[
        list[str] | None,
        Meta(description="version 2: RFC 9162 inclusion path, leaf upwards, base64url hashes"),
    ] = None


class Amount(Answer):
    minor_units: int
    currency: Annotated[str, Meta(description="ISO 4217 code", examples=["CNY"])]


# -- operations --------------------------------------------------------------------------


class Liveness(Answer):
    status: Annotated[str, Meta(examples=["ok"])]


class Readiness(Answer):
    status: Annotated[str, Meta(description="ok, degraded (Redis or the key service down) or down")]
    checks: Annotated[dict[str, str], Meta(description="per backing service: ok or why not")]


class WhoAmI(Answer):
    principal: str
    role: str


class Principal(Answer):
    id: str
    name: str
    role: str
    status: str
    created_at: Time
    active_kids: list[str]


class Principals(Answer):
    principals: list[Principal]


# -- reports ------------------------------------------------------------------------------


class ReportFiled(Answer):
    report_id: str
    status: str
    expires_at: Time
    receipt: Receipt


class BulkFiled(Answer):
    report_ids: Annotated[list[str], Meta(description="in the order of the upload")]
    created: int
    already_filed: int


class ReportView(Answer):
    report_id: str
    case_reference: str
    category: str
    amount: Amount
    order_date: Day
    refund_date: Day
    confirmed_at: Time
    buyer_notified_at: Time
    filed_at: Time
    evidence_kinds: list[str]
    identifier_kinds: list[str]
    status: str
    status_changed_at: Time
    status_reason: str | None
    expires_at: Time
    receipt: Receipt | None = None


class Retracted(Answer):
    report_id: str
    status: str
    retracted_at: Time
    receipt: Receipt


class Event(Struct):
    """One feed event; each ``type`` adds its own fields."""

    cursor: Annotated[str, Meta(description="pass as `after` to resume after this event")]
    type: Annotated[str, Meta(examples=["report.filed", "appeal.opened"])]
    at: Time
    report_id: str | None = None
    appeal_id: str | None = None
    description: Annotated[
        str,
        Meta(
            description="what happened, in one sentence in the answer's language "
            "(`Content-Language`); for people, never to act on"
        ),
    ] = ""


class EventPage(Answer):
    events: list[Event]
    next_cursor: str


# -- risk ---------------------------------------------------------------------------------


class Reason(Answer):
    code: str
    text: str


class Counts(Answer):
    active_reports: int
    platforms: int
    disputed: int


class RiskAnswer(Answer):
    score: Annotated[int, Meta(ge=0, le=999, description="0 to 999; see docs/scoring.md")]
    band: str
    reasons: list[Reason]
    matched_kinds: list[str]
    counts: Counts
    latest_confirmed_at: Time | None
    statement: str | None
    notice: str
    query_id: str
    receipt: Receipt


class RiskBatchAnswer(Answer):
    results: Annotated[list[RiskAnswer], Meta(description="in request order")]


# -- buyers and appeals -------------------------------------------------------------------


class AppealSummary(Answer):
    appeal_id: str
    report_id: str
    state: str
    grounds: str
    filed_at: Time
    member_response_due: Time | None
    decision_due: Time | None
    closed_at: Time | None
    closed_reason: str | None


class RecordReport(Answer):
    report_id: str
    member: str
    category: str
    amount: Amount
    order_date: Day
    refund_date: Day
    confirmed_at: Time
    filed_at: Time
    status: str
    status_changed_at: Time
    expires_at: Time
    matched_kinds: list[str]


class Inquiry(Answer):
    """One look at the buyer's record: a risk query, or a read of the record."""

    member: Annotated[str | None, Meta(description="the member's name")]
    at: Time
    purpose: str | None
    how: Annotated[
        str,
        Meta(
            description="`query` (a risk query) or `via_member` (a read of the record in a "
            "session the member handed over); the buyer's own reads are not listed"
        ),
    ]


class SubjectRecord(Answer):
    reports: list[RecordReport]
    inquiries: list[Inquiry]
    appeals: list[AppealSummary]
    statement: str | None


class StatementSet(Answer):
    statement: str | None
    subjects: int
    updated_at: Time


class AppealView(AppealSummary):  # the summary's fields, then the appeal's details
    statement: str
    answered_at: Time | None
    member_summary: str | None
    decision_rationale: str | None
    report: Annotated[
        dict[str, Any],
        Meta(description="the appealed report; the member's own bookkeeping is hidden from buyers"),
    ]
    history: Annotated[list[dict[str, Any]], Meta(description="ledger events, oldest first")]


# -- audit ---------------------------------------------------------------------------------


class InclusionProof(Answer):
    leaf_index: int
    tree_size: int
    hashes: list[B64]


class ConsistencyProof(Answer):
    first: int
    second: int
    hashes: list[B64]


class AuditEntries(Answer):
    entries: Annotated[
        list[dict[str, Any]],
        Meta(
            description="each with its `index`, `leaf` (the exact hashed bytes) and decoded fields"
        ),
    ]
    next_after: int | None
    receipt: Receipt


class AuditSummary(Answer):
    day: Day
    members: list[dict[str, Any]]
    policy: dict[str, Any]
    receipt: Receipt


class WitnessState(Answer):
    name: str
    url: str
    key: Annotated[str, Meta(description="the witness verifier key (cosignature/v1, type 0x04)")]
    cosigned_size: int | None


class WitnessStatus(Answer):
    """The registry's witness policy and where each witness stands."""

    quorum: int
    latest_size: int | None
    witnesses: list[WitnessState]


# -- key service ---------------------------------------------------------------------------


class Evaluated(Answer):
    evaluated: list[B64]
    proof: B64


class KeyServicePublicKey(Answer):
    suite: Annotated[str, Meta(examples=["ristretto255-SHA512"])]
    public_key: B64


# -- listings -------------------------------------------------------------------------------

Cursor = Annotated[
    str | None,
    Meta(description="pass as `after` for the next page; null on the last page"),
]


class QueueItem(Answer):
    """An appeal in the work queue; no buyer identifier, statement or case reference."""

    appeal_id: str
    report_id: str
    state: Annotated[str, Meta(examples=["awaiting_member"])]
    grounds: Annotated[str, Meta(examples=["not_me"])]
    filed_at: Time
    due: Annotated[
        str | None,
        Meta(description="the deadline of the current step, RFC 3339 UTC; null once closed"),
    ]
    days_left: Annotated[
        int | None,
        Meta(
            description="whole days until `due`, a part of a day counting as one; 0 or "
            "less once passed; null once closed"
        ),
    ]
    member: Annotated[str, Meta(description="the reporting member's principal id")]
    category: str
    amount: Amount


class AppealQueue(Answer):
    appeals: Annotated[
        list[QueueItem],
        Meta(description="soonest current deadline first, then closed appeals by closing time"),
    ]
    next_after: Cursor


class ReportPage(Answer):
    reports: Annotated[list[ReportView], Meta(description="newest filing first")]
    next_after: Cursor
