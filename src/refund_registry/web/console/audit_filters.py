"""The auditor console's filters and view models: query strings in, what a page shows out.

Pure: the filters of the log browser as the query string carries them (shared by
the browser, its paging links and the CSV export), and the per-member chart
models built from the service's daily figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from markupsafe import Markup

from refund_registry.domain.access import ACTIONS
from refund_registry.domain.audit_summary import DEFAULT_SUMMARY_POLICY
from refund_registry.domain.audit_views import EntryFilter
from refund_registry.errors import InvalidInput, MalformedBody
from refund_registry.web.console.audit_charts import Bar, bar_chart, share_bar
from refund_registry.web.i18n import N_, Language

FILTER_NAMES: Final = ("member", "action", "purpose", "since", "until")
_MAX_TEXT: Final = 200


def _moment(name: str, text: str) -> datetime:
    """A time from the form: ``YYYY-MM-DDTHH:MM`` (a browser's datetime-local, read as UTC)
    or a full ISO 8601 time with an offset."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedBody(
            f"{name} must be a time such as 2026-03-01T08:00", code="request.invalid_query"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value.year < 1970:
        raise MalformedBody(f"{name} must be after 1970", code="request.invalid_query")
    return value


def parse_filters(query: Mapping[str, str]) -> EntryFilter:
    """The filters of the log browser, from its query string; empty fields match anything."""
    values = {name: (query.get(name) or "").strip()[:_MAX_TEXT] for name in FILTER_NAMES}
    action = values["action"] or None
    if action is not None and action not in ACTIONS:
        raise InvalidInput(
            f"action must be one of {', '.join(sorted(ACTIONS))}", code="audit.action"
        )
    since = _moment("since", values["since"]) if values["since"] else None
    until = _moment("until", values["until"]) if values["until"] else None
    if since and until and since >= until:
        raise InvalidInput("since must be earlier than until", code="audit.time_range")
    return EntryFilter(
        member=values["member"] or None,
        action=action,
        purpose=values["purpose"] or None,
        since=since,
        until=until,
    )


def form_values(filters: EntryFilter) -> dict[str, str]:
    """The filters as the form's fields show them (times as ``YYYY-MM-DDTHH:MM`` in UTC)."""
    out = {"member": filters.member or "", "action": filters.action or ""}
    out["purpose"] = filters.purpose or ""
    for name in ("since", "until"):
        moment: datetime | None = getattr(filters, name)
        out[name] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if moment else ""
    return out


def query_string(filters: EntryFilter, **extra: object) -> str:
    """The query string that asks for these filters again (empty ones left out)."""
    pairs = [(k, v) for k, v in form_values(filters).items() if v]
    pairs += [(k, str(v)) for k, v in extra.items() if v is not None]
    return urlencode(pairs)


def actions() -> list[str]:
    return sorted(ACTIONS)


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True, slots=True)
class MemberChart:
    """What the page shows for one member: two charts, purpose shares and the table."""

    member: str
    volume: Markup
    shares: Markup
    share_rows: list[tuple[str, float, bool]]
    days: list[dict[str, Any]]
    flagged_days: list[dict[str, Any]]


def purpose_shares(days: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, bool]]:
    """``(purpose, share of the window's looks, unexpected)``, largest first.

    The daily figures carry shares; weighting each by that day's looks gives the
    window's share. Unexpected purposes are the daily summary's.
    """
    counts: dict[str, float] = {}
    for day in days:
        for purpose, share in day["purposes"].items():
            counts[purpose] = counts.get(purpose, 0.0) + share * day["queries"]
    total = sum(counts.values())
    expected = DEFAULT_SUMMARY_POLICY.expected_purposes
    rows = [(p, (n / total if total else 0.0), p not in expected) for p, n in counts.items()]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


ANOMALIES: Final[Mapping[str, str]] = {
    "subject_sweep": N_(
        "%(subjects)s distinct subjects, %(one_off)s of them looked up only once: a sweep "
        "through buyers rather than checks of the buyers asking for refunds"
    ),
    "burst": N_("%(queries)s looks against a trailing mean of %(mean)s a day"),
    "unexpected_purpose": N_(
        "Some looks gave a purpose that is not a refund, chargeback, account or appeal matter"
    ),
}


def anomaly_text(language: Language, code: str, day: Mapping[str, Any]) -> str:
    """An anomaly of the daily summary in the auditor's words, with that day's figures."""
    if code not in ANOMALIES:
        return code
    return language.gettext(
        ANOMALIES[code],
        subjects=day["distinct_subjects"],
        one_off=day["one_off_subjects"],
        queries=day["queries"],
        mean=day.get("baseline_queries_per_day", 0),
    )


def member_chart(
    language: Language, member: str, days: list[dict[str, Any]], index: int
) -> MemberChart:
    """The charts of one member's window of days; flagged days carry their anomaly details."""
    bars = [
        Bar(
            day["day"],
            (day["queries"], day["distinct_subjects"], day["handoff_reads"]),
            "; ".join(anomaly_text(language, a["code"], day) for a in day["anomalies"]) or None,
        )
        for day in days
    ]
    series = (
        language.gettext("Queries"),
        language.gettext("Distinct subjects"),
        language.gettext("Subject accesses"),
    )
    flagged = [day for day in days if day["anomalies"]]
    title = language.gettext("Daily looks of member %(member)s", member=member)
    desc = language.ngettext(
        "%(num)d flagged day in this window.", "%(num)d flagged days in this window.", len(flagged)
    )
    shares = purpose_shares(days)
    return MemberChart(
        member=member,
        volume=bar_chart(
            chart_id=f"chart-{index}", title=title, desc=desc, series=series, bars=bars
        ),
        shares=share_bar(
            chart_id=f"share-{index}",
            title=language.gettext("Share of each purpose, member %(member)s", member=member),
            shares=shares,
        ),
        share_rows=shares,
        days=days,
        flagged_days=flagged,
    )
