"""The auditor's daily summary: per member, what its looks at buyers amount to.

Pure rules (unusual query patterns surface in the auditor views): when a
member's day is flagged, and the summary document built from counts that
``services.audit.day_summary`` reads from the log.

A member looks at a buyer in two ways: a risk query, or a read of the buyer's
record in a session the member handed over (purpose :data:`HANDOFF_PURPOSE`).
Both count alike, so a member sweeping through buyers by hand-offs is flagged
as one sweeping through queries would be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

UNSTATED = "unstated"
HANDOFF_PURPOSE = "subject_access"
"""The purpose under which record reads in a member's hand-off sessions are counted."""


@dataclass(frozen=True, slots=True)
class SummaryPolicy:
    """When a member's day is flagged for an auditor to look at.

    * **subject sweep**: more than ``sweep_min_subjects`` distinct subjects, of
      which more than ``sweep_one_off_share`` were named only once that day. A
      platform checks the buyers who ask it for refunds; one that runs through
      many subjects once each looks like it is mining the registry.
    * **burst**: at least ``burst_min_queries`` queries and more than
      ``burst_factor`` times the member's mean daily count over the
      ``baseline_days`` before. A member with no history has a baseline of 0.
    * **unexpected purpose**: any query whose purpose is not in
      ``expected_purposes`` (a refund, chargeback, account or appeal matter).
    """

    sweep_min_subjects: int = 100
    sweep_one_off_share: float = 0.9
    burst_factor: float = 5.0
    burst_min_queries: int = 100
    baseline_days: int = 28
    expected_purposes: frozenset[str] = frozenset(
        {
            "refund_decision",
            "account_review",
            "chargeback_review",
            "appeal_handling",
            HANDOFF_PURPOSE,
        }
    )

    def as_json(self) -> dict[str, Any]:
        return {
            "sweep_min_subjects": self.sweep_min_subjects,
            "sweep_one_off_share": self.sweep_one_off_share,
            "burst_factor": self.burst_factor,
            "burst_min_queries": self.burst_min_queries,
            "baseline_days": self.baseline_days,
            "expected_purposes": sorted(self.expected_purposes),
        }


DEFAULT_SUMMARY_POLICY = SummaryPolicy()


@dataclass(frozen=True, slots=True)
class MemberDay:
    """What one member's looks of one day amount to (the input of :func:`assess`).

    ``purposes`` counts risk queries per purpose and hand-off reads under
    :data:`HANDOFF_PURPOSE`; ``queries`` is all of them.
    """

    member: str
    purposes: dict[str, int]
    distinct_subjects: int
    one_off_subjects: int
    trailing_queries: int

    @property
    def queries(self) -> int:
        return sum(self.purposes.values())


def assess(day: MemberDay, policy: SummaryPolicy) -> list[dict[str, Any]]:
    """The anomalies of one member's day, per :class:`SummaryPolicy`. Pure."""
    anomalies: list[dict[str, Any]] = []
    if day.distinct_subjects > policy.sweep_min_subjects:
        share = day.one_off_subjects / day.distinct_subjects
        if share > policy.sweep_one_off_share:
            anomalies.append(
                {
                    "code": "subject_sweep",
                    "detail": (
                        f"{day.distinct_subjects} distinct subjects, {share:.0%} of them "
                        "looked up only once"
                    ),
                }
            )
    baseline = day.trailing_queries / policy.baseline_days
    if day.queries >= policy.burst_min_queries and day.queries > policy.burst_factor * baseline:
        anomalies.append(
            {
                "code": "burst",
                "detail": (
                    f"{day.queries} queries against a trailing mean of {baseline:.1f} a day "
                    f"over {policy.baseline_days} days"
                ),
            }
        )
    unexpected = {p: n for p, n in day.purposes.items() if p not in policy.expected_purposes}
    if unexpected:
        count = sum(unexpected.values())
        anomalies.append(
            {
                "code": "unexpected_purpose",
                "detail": (
                    f"{count} of {day.queries} queries gave a purpose that is not a refund, "
                    f"chargeback, account or appeal matter: {', '.join(sorted(unexpected))}"
                ),
            }
        )
    return anomalies


def summarize(day: date, members: Sequence[MemberDay], policy: SummaryPolicy) -> dict[str, Any]:
    """The ``GET /v1/audit/summary`` document for one UTC day. Pure."""
    rows = []
    for m in sorted(members, key=lambda m: (-m.queries, m.member)):
        total = m.queries
        rows.append(
            {
                "member": m.member,
                "queries": total,
                "handoff_reads": m.purposes.get(HANDOFF_PURPOSE, 0),
                "distinct_subjects": m.distinct_subjects,
                "one_off_subjects": m.one_off_subjects,
                "purposes": {p: round(n / total, 4) for p, n in sorted(m.purposes.items())},
                "baseline_queries_per_day": round(m.trailing_queries / policy.baseline_days, 2),
                "anomalies": assess(m, policy),
            }
        )
    return {"day": day.isoformat(), "members": rows, "policy": policy.as_json()}
