"""Appeal rows, and the contested report as the parties to an appeal see it.

An appeal row is only ever changed while its report row is locked (the
ledger's lock order); its state change is still a compare-and-set. Every
function runs in the caller's transaction; driver errors become domain
errors here, through ``storage.db.translating``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from refund_registry.storage.conn import Conn
from refund_registry.storage.db import translating
from refund_registry.storage.queries import Q


@dataclass(frozen=True, slots=True)
class AppealRow:
    """One appeal row. ``filed_via`` / ``withdrawn_via``: the member the buyer acted
    through (``None``: directly; ``withdrawn_via`` means nothing unless withdrawn)."""

    id: str
    report_id: str
    member_id: str
    filed_via: str | None
    withdrawn_via: str | None
    grounds: str
    statement: str
    state: str
    member_summary: str | None
    decision_rationale: str | None
    closed_reason: str | None
    filed_at: datetime
    member_response_due: datetime | None
    decision_due: datetime
    answered_at: datetime | None
    decided_at: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class AppealListing:
    """An appeal as listed on a buyer's record."""

    id: str
    report_id: str
    state: str
    grounds: str
    filed_at: datetime
    member_response_due: datetime | None
    decision_due: datetime
    decided_at: datetime | None
    closed_reason: str | None


@dataclass(frozen=True, slots=True)
class ContestedReport:
    """What the parties to an appeal may see of the contested report."""

    id: str
    member_id: str
    case_reference: str
    category: str
    amount_minor: int
    currency: str
    order_date: date
    refund_date: date
    confirmed_at: datetime
    filed_at: datetime
    evidence_digest: bytes
    status: str
    status_changed_at: datetime
    subject_keys: tuple[bytes, ...]
    member_name: str | None


@dataclass(frozen=True, slots=True)
class DueReport:
    """The locked report of an open appeal that is due (``appeal_id``)."""

    appeal_id: str
    id: str
    member_id: str
    status: str
    subject_keys: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class PriorAppeal:
    """An appeal of a report, as the limits on appealing it again see it."""

    id: str
    state: str
    filed_at: datetime
    decided_at: datetime | None
    member_summary: str | None


@dataclass(frozen=True, slots=True)
class NewAppeal:
    """A new appeal. ``member_summary`` only for one on new evidence (the decided
    appeal's summary stands); ``filed_via`` ``None``: the buyer filed directly."""

    id: str
    report_id: str
    member_id: str
    filed_via: str | None
    subject_keys: list[bytes]
    grounds: str
    statement: str
    state: str
    filed_at: datetime
    member_response_due: datetime | None
    decision_due: datetime
    member_summary: str | None = None


@translating
async def insert(conn: Conn, appeal: NewAppeal) -> None:
    await conn.execute(
        Q["insert_appeal"], appeal.id, appeal.report_id, appeal.member_id, appeal.filed_via,
        appeal.subject_keys, appeal.grounds, appeal.statement, appeal.state, appeal.filed_at,
        appeal.member_response_due, appeal.decision_due, appeal.member_summary,
    )  # fmt: skip


@translating
async def previous_of_report(conn: Conn, report_id: str) -> list[PriorAppeal]:
    """Every appeal of the report so far, oldest first.

    Precondition: the caller holds the report row lock, so that none of them
    starts or ends before the new appeal is written.
    """
    return [
        PriorAppeal(**row) for row in await conn.fetch(Q["previous_appeals_of_report"], report_id)
    ]


@translating
async def report_id_of(conn: Conn, appeal_id: str) -> str | None:
    """The appeal's report (unlocked: only to find which report row to lock first)."""
    report_id: str | None = await conn.fetchval(Q["appeal_report_id"], appeal_id)
    return report_id


@translating
async def get(conn: Conn, appeal_id: str) -> AppealRow | None:
    row = await conn.fetchrow(Q["get_appeal"], appeal_id)
    return AppealRow(**row) if row is not None else None


@translating
async def get_many(conn: Conn, appeal_ids: list[str]) -> dict[str, AppealRow]:
    rows = await conn.fetch(Q["get_appeals"], appeal_ids)
    return {row["id"]: AppealRow(**row) for row in rows}


@translating
async def open_appeal_of(conn: Conn, report_id: str) -> AppealRow | None:
    row = await conn.fetchrow(Q["open_appeal_of_report"], report_id)
    return AppealRow(**row) if row is not None else None


@translating
async def set_state(
    conn: Conn,
    appeal_id: str,
    old: str,
    new: str,
    *,
    summary: str | None,
    rationale: str | None,
    closed_reason: str | None,
    answered_at: datetime | None,
    decided_at: datetime | None,
    withdrawn_via: str | None = None,
) -> bool:
    """Compare-and-set the state (None texts keep theirs): False if the appeal moved first.

    ``withdrawn_via`` is recorded only when ``new`` is ``withdrawn``.
    """
    version = await conn.fetchval(
        Q["set_appeal_state"], appeal_id, old, new, summary, rationale, closed_reason,
        answered_at, decided_at, withdrawn_via,
    )  # fmt: skip
    return version is not None


@translating
async def state_of(conn: Conn, appeal_id: str) -> str | None:
    state: str | None = await conn.fetchval(Q["appeal_state"], appeal_id)
    return state


@translating
async def contested_report(conn: Conn, report_id: str) -> ContestedReport | None:
    row = await conn.fetchrow(Q["appeal_report"], report_id)
    if row is None:
        return None
    return ContestedReport(**{**row, "subject_keys": tuple(bytes(k) for k in row["subject_keys"])})


@translating
async def claim_due(conn: Conn, as_of: datetime, limit: int) -> list[DueReport]:
    """Lock the reports of up to ``limit`` open appeals that are due at ``as_of``
    (deadline passed, or report no longer disputed); rows others hold are skipped."""
    return [
        DueReport(
            row["appeal_id"],
            row["id"],
            row["member_id"],
            row["status"],
            tuple(bytes(k) for k in row["subject_keys"]),
        )
        for row in await conn.fetch(Q["claim_due_appeals"], as_of, limit)
    ]


@translating
async def of_reports(conn: Conn, report_ids: list[str]) -> list[AppealListing]:
    return [AppealListing(**row) for row in await conn.fetch(Q["appeals_of_reports"], report_ids)]


@translating
async def upheld_exists(conn: Conn, keys: Sequence[bytes]) -> bool:
    """Whether an appeal filed under any of these subject keys ended ``upheld``."""
    return bool(await conn.fetchval(Q["upheld_appeal_exists"], list(keys)))


@translating
async def erase_subjects(conn: Conn, report_ids: list[str]) -> None:
    """Retention: the appeals of these expired reports stop naming the buyer."""
    await conn.execute(Q["erase_appeal_subjects"], report_ids)
