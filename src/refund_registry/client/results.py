"""What the registry answered, as typed values.

Every typed result keeps the HTTP exchange it came from in ``http``
(:class:`ApiResult`: status, headers, the decoded body), because the status
says things the body does not: a report filed for the first time is answered
``201``, the same filing sent again ``200`` with the same body, and
:attr:`Filed.created` is how a member tells them apart.

Decoding is lenient about *additions* (a field the registry adds later is
ignored, so an older SDK keeps working) and strict about what it relies on
(a missing or mistyped field raises
:class:`~refund_registry.client.sdk.UnexpectedAnswer`). Times stay RFC 3339
strings, exactly as served; binary values stay unpadded base64url.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiResult:
    """One answer as it came: status, headers (lower-case names) and decoded body.

    ``body`` is the parsed JSON of a JSON answer, the text of any other, or
    ``None`` for an empty one (``204``).
    """

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: Any

    @property
    def content_language(self) -> str | None:
        """The language of the answer's texts (``zh-CN`` or ``en``), as the registry said."""
        return self.headers.get("content-language")


@dataclass(frozen=True, slots=True)
class Receipt:
    """The log's signed promise that the access was recorded (see docs/contract.md, receipts).

    Keep it: with a later checkpoint and an inclusion proof it shows the
    registry logged this very access. ``v`` is 1 (its own signature) or 2
    (``index``, ``tree_size`` and ``path`` lead to the root of its group
    commit's receipt tree, which ``signature`` covers); check either with
    :func:`~refund_registry.client.check_receipt_signature`.
    """

    leaf_hash: str
    logged_at: str
    signature: str
    v: int = 1
    index: int | None = None
    tree_size: int | None = None
    path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Filed:
    """``POST /v1/reports``: ``created`` is False when the case reference was filed before.

    A replay of the same body (a retry after a lost answer, say) gets the
    first filing's answer back with status 200; nothing is filed twice.
    """

    report_id: str
    status: str
    expires_at: str
    receipt: Receipt
    created: bool
    http: ApiResult = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class BulkFiled:
    """``POST /v1/reports/bulk``: ``created`` new reports, ``already_filed`` replays.

    ``report_ids`` follows the order of the upload, replays included.
    """

    report_ids: tuple[str, ...]
    created: int
    already_filed: int
    http: ApiResult = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Retracted:
    report_id: str
    status: str
    retracted_at: str
    receipt: Receipt
    http: ApiResult = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Reason:
    """One plain-language reason behind a score; ``code`` is stable, ``text`` for people."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class Counts:
    active_reports: int
    platforms: int
    disputed: int


@dataclass(frozen=True, slots=True)
class RiskAnswer:
    """A risk query's answer. The score is advice: never refuse a buyer on it alone.

    Show the buyer ``notice``. ``receipt`` proves the query (with its purpose)
    was logged before the answer was sent.
    """

    score: int
    band: str
    reasons: tuple[Reason, ...]
    matched_kinds: tuple[str, ...]
    counts: Counts
    latest_confirmed_at: str | None
    statement: str | None
    notice: str
    query_id: str
    receipt: Receipt
    http: ApiResult | None = field(default=None, repr=False, compare=False)

    @property
    def content_language(self) -> str | None:
        """The language of ``reasons[].text`` and ``notice``; None inside a batch."""
        return self.http.content_language if self.http is not None else None


@dataclass(frozen=True, slots=True)
class RiskBatch:
    """``POST /v1/risk/query/batch``: one :class:`RiskAnswer` per query, in request order.

    The answers inside have no ``http`` of their own; the batch's is here.
    """

    results: tuple[RiskAnswer, ...]
    http: ApiResult = field(repr=False, compare=False)

    @property
    def content_language(self) -> str | None:
        """The language of every answer's texts in the batch."""
        return self.http.content_language


@dataclass(frozen=True, slots=True)
class Event:
    """One feed event. ``data`` holds the whole event, including each type's own fields."""

    cursor: str
    type: str
    at: str
    data: Mapping[str, Any] = field(repr=False)
    report_id: str | None = None
    appeal_id: str | None = None
    description: str = ""
    """What happened, in one sentence in the page's language; for people, never to act on."""


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of the event feed; pass ``next_cursor`` as ``after`` for the next one.

    Store ``next_cursor`` only after handling the page: the feed is
    at-least-once, so an event may come again and must be handled idempotently.
    """

    events: tuple[Event, ...]
    next_cursor: str
    http: ApiResult = field(repr=False, compare=False)

    @property
    def content_language(self) -> str | None:
        """The language of the events' ``description``."""
        return self.http.content_language


# --------------------------------------------------------------------------- listings


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount in the currency's minor units (fen for ``CNY``)."""

    minor_units: int
    currency: str


@dataclass(frozen=True, slots=True)
class QueuedAppeal:
    """An appeal in the work queue (``GET /v1/appeals``); it names no buyer.

    ``due`` is the deadline of the step the appeal is in, ``None`` once it is
    closed; ``days_left`` the whole days until it when the page was made (a
    part of a day counts as one; 0 or less once the deadline has passed).
    ``member`` is the reporting member's principal id.
    """

    appeal_id: str
    report_id: str
    state: str
    grounds: str
    filed_at: str
    due: str | None
    days_left: int | None
    member: str
    category: str
    amount: Amount


@dataclass(frozen=True, slots=True)
class AppealQueuePage:
    """One page of the work queue, soonest deadline first; ``next_after`` is the
    cursor of the next page (pass it as ``after``), ``None`` on the last one."""

    appeals: tuple[QueuedAppeal, ...]
    next_after: str | None
    http: ApiResult = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ListedReport:
    """One of the member's own reports, as ``GET /v1/reports/{id}`` shows it."""

    report_id: str
    case_reference: str
    category: str
    amount: Amount
    order_date: str
    refund_date: str
    confirmed_at: str
    buyer_notified_at: str
    filed_at: str
    evidence_kinds: tuple[str, ...]
    identifier_kinds: tuple[str, ...]
    status: str
    status_changed_at: str
    status_reason: str | None
    expires_at: str
    receipt: Receipt | None = None


@dataclass(frozen=True, slots=True)
class ReportPage:
    """One page of the member's reports, newest filing first; ``next_after`` as in
    :class:`AppealQueuePage`."""

    reports: tuple[ListedReport, ...]
    next_after: str | None
    http: ApiResult = field(repr=False, compare=False)
