"""What the auditor's console shows: the log browser, per-member days, checkpoints, CSV.

The entries and the daily figures are the audit API's own
(:mod:`refund_registry.services.audit`), so the console and the API can never
disagree; this module adds the picture over several days, the checkpoint
history with the merge delay of each, and the CSV export. Every read here is
logged as an ``audit.read`` entry by the caller (the console's pages), like the
API's reads.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from refund_registry.domain.audit_console import (
    MergeDelay,
    checkpoint_delay,
    csv_cell,
    merge_delay,
)
from refund_registry.domain.audit_views import MAX_PAGE, EntryFilter
from refund_registry.domain.wire import b64url
from refund_registry.services import audit
from refund_registry.storage import audit_console as store
from refund_registry.storage.accesslog import Reader
from refund_registry.storage.tree import latest_checkpoint

CHART_DAYS = 14
"""How many UTC days the per-member charts cover, ending with the day asked for."""

MAX_CHART_MEMBERS = 12
"""Charts for at most this many members (the busiest) when no member is chosen."""

CSV_COLUMNS = (
    "index", "logged_at", "actor", "role", "action", "purpose", "outcome", "query_id",
    "request", "subjects", "detail", "leaf_hash",
)  # fmt: skip


# --------------------------------------------------------------------------- per-member days


@dataclass(frozen=True, slots=True)
class MemberSeries:
    """One member's figures for each day of the chart window, oldest first (zeros: no looks)."""

    member: str
    days: list[dict[str, Any]]

    @property
    def flagged(self) -> bool:
        return any(day["anomalies"] for day in self.days)


def _blank(day: date) -> dict[str, Any]:
    return {
        "day": day.isoformat(),
        "queries": 0,
        "handoff_reads": 0,
        "distinct_subjects": 0,
        "one_off_subjects": 0,
        "purposes": {},
        "anomalies": [],
    }


async def member_series(
    pool: Reader, *, last_day: date, member: str | None, days: int = CHART_DAYS
) -> list[MemberSeries]:
    """Per member, the daily summary's figures and anomaly flags over ``days`` days.

    The flags are exactly the daily summary's (``domain.audit_summary``); a
    member filter keeps one member, otherwise the busiest members come first.
    """
    window = [last_day - timedelta(days=n) for n in range(days - 1, -1, -1)]
    per_member: dict[str, dict[str, dict[str, Any]]] = {}
    for day in window:
        summary = await audit.day_summary(pool, day)
        for row in summary["members"]:
            if member is None or row["member"] == member:
                per_member.setdefault(row["member"], {})[day.isoformat()] = {
                    **row,
                    "day": day.isoformat(),
                }
    series = [
        MemberSeries(name, [found.get(d.isoformat()) or _blank(d) for d in window])
        for name, found in per_member.items()
    ]
    series.sort(key=lambda s: (-sum(d["queries"] for d in s.days), s.member))
    return series[:MAX_CHART_MEMBERS]


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True, slots=True)
class CheckpointLine:
    size: int
    root: str
    signed_at: datetime
    new_entries: int
    waited_seconds: float | None
    kept: bool


async def checkpoint_history(
    pool: Reader, *, before: int | None, limit: int = 50
) -> list[CheckpointLine]:
    """Checkpoints newest first, each with how long its oldest newly covered entry waited."""
    lines = []
    for row in await store.checkpoints(pool, before=before, limit=limit):
        waited, kept = checkpoint_delay(row.at, row.oldest_new_entry)
        lines.append(
            CheckpointLine(
                row.size, b64url(row.root), row.at, row.size - row.previous_size, waited, kept
            )
        )
    return lines


async def current_merge_delay(pool: Reader, now: datetime) -> MergeDelay:
    """How long the oldest entry in no signed checkpoint has waited, against the promise."""
    latest = await latest_checkpoint(pool)
    oldest = await store.oldest_uncovered(pool, signed_size=0 if latest is None else latest.size)
    return merge_delay(oldest, now)


# --------------------------------------------------------------------------- CSV export


def csv_line(values: Sequence[object]) -> str:
    """One CSV record with every cell made safe to open in a spreadsheet."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([csv_cell(v) for v in values])
    return out.getvalue()


def csv_record(item: dict[str, Any]) -> list[object]:
    """An entry of the log browser as one CSV row, in :data:`CSV_COLUMNS` order."""
    detail = item.get("detail")
    subjects = item.get("subjects")
    return [
        item["index"],
        item.get("logged_at"),
        item.get("actor"),
        item.get("role"),
        item.get("action"),
        item.get("purpose"),
        item.get("outcome"),
        item.get("query_id"),
        item.get("request"),
        " ".join(subjects) if isinstance(subjects, list) else None,
        json.dumps(detail, sort_keys=True, ensure_ascii=False) if detail else None,
        item["leaf_hash"],
    ]


async def export_csv(pool: Reader, filters: EntryFilter) -> AsyncIterator[str]:
    """Every sequenced entry that matches, as CSV text, a page of the store at a time.

    Streamed: memory stays bounded whatever the size of the log.
    """
    yield csv_line(CSV_COLUMNS)
    after: int | None = None
    while True:
        page = await audit.list_entries(pool, after=after, limit=MAX_PAGE, filters=filters)
        for item in page["entries"]:
            yield csv_line(csv_record(item))
        if page["next_after"] is None:
            return
        after = page["next_after"]


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()
