"""Pure rules of the auditor's console: CSV cells, chart scales and the merge-delay promise.

Nothing here reads the store or the clock: the console's service passes the
rows and the current time in (``services/audit_console.py``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from refund_registry.domain.audit_views import EntryFilter

MERGE_DELAY_PROMISE: Final = timedelta(seconds=60)
"""The maximum merge delay the log promises (``docs/audit.md``)."""

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_cell(value: object) -> str:
    """One CSV cell's text that no spreadsheet runs as a formula (OWASP CSV injection).

    A text starting with ``= + - @``, a tab, a carriage return, a line feed,
    ``|`` or ``%`` gets a leading apostrophe, which spreadsheets show as text and
    do not evaluate. Numbers are written as they are (a negative number is data,
    not a formula); ``None`` is an empty cell. Quoting is the ``csv`` writer's job.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]+")


def export_filename(filters: EntryFilter, *, max_length: int = 120) -> str:
    """``access-log[_member-…][_action-…]…csv``: the filter in the name, safe in any header.

    Only ASCII letters, digits, dot, underscore and hyphen appear in the name,
    so it needs no quoting in ``Content-Disposition`` and cannot break out of it.
    """
    parts = ["access-log"]
    described = filters.described()
    for name in ("member", "action", "purpose", "since", "until"):
        value = described.get(name)
        if value is not None:
            clean = _UNSAFE_NAME.sub("-", str(value)).strip("-")
            parts.append(f"{name}-{clean}" if clean else name)
    if described.get("subject"):
        parts.append("subject")
    stem = "_".join(parts)[: max_length - 4]
    return stem + ".csv"


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True, slots=True)
class Scale:
    """A linear scale from ``[0, top]`` onto ``[0, height]`` pixels; ``top`` is a nice number."""

    top: int
    height: float

    def __call__(self, value: float) -> float:
        if self.top <= 0:
            return 0.0
        return max(0.0, min(self.height, value * self.height / self.top))

    def ticks(self) -> list[int]:
        """Up to five evenly spaced axis values from 0 to ``top``."""
        if self.top <= 0:
            return [0]
        step = max(1, self.top // 4)
        return list(range(0, self.top + 1, step))


def nice_top(largest: float) -> int:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least ``largest``.

    A chart's axis ends on a round number at or above its largest value, so every
    bar fits and the axis labels are readable. Zero or less gives 0.
    """
    if largest <= 0:
        return 0
    magnitude = 1
    while magnitude * 10 <= largest:
        magnitude *= 10
    for factor in (1, 2, 2.5, 5, 10):
        top = factor * magnitude
        if top >= largest and top == int(top):
            return int(top)
    return 10 * magnitude


def scale_for(values: Sequence[float], height: float) -> Scale:
    """The scale that fits every value of a chart into ``height`` pixels."""
    return Scale(nice_top(max(values, default=0)), height)


# --------------------------------------------------------------------------- merge delay


@dataclass(frozen=True, slots=True)
class MergeDelay:
    """How long the oldest entry not yet in a signed checkpoint has waited.

    ``seconds`` is 0 when every logged entry is in the latest checkpoint.
    ``kept`` says whether the 60-second promise holds right now.
    """

    seconds: float
    promise_seconds: float
    kept: bool
    waiting_since: datetime | None


def merge_delay(
    oldest_uncovered: datetime | None,
    now: datetime,
    promise: timedelta = MERGE_DELAY_PROMISE,
) -> MergeDelay:
    """The current merge delay: ``now`` minus the time of the oldest entry outside the latest
    checkpoint (none waiting: zero). The promise is kept while that is at most ``promise``.

    A clock that reads earlier than the entry (skew between processes) counts as no wait.
    """
    if oldest_uncovered is None:
        return MergeDelay(0.0, promise.total_seconds(), True, None)
    waited = max(0.0, (now - oldest_uncovered).total_seconds())
    return MergeDelay(
        waited, promise.total_seconds(), waited <= promise.total_seconds(), oldest_uncovered
    )


def checkpoint_delay(
    signed_at: datetime, oldest_new_entry: datetime | None, promise: timedelta = MERGE_DELAY_PROMISE
) -> tuple[float | None, bool]:
    """For one checkpoint: how long its oldest newly covered entry waited, and whether that kept
    the promise. A checkpoint that covers no new entry (the log did not grow) waited for nothing.
    """
    if oldest_new_entry is None:
        return None, True
    waited = max(0.0, (signed_at - oldest_new_entry).total_seconds())
    return waited, waited <= promise.total_seconds()
