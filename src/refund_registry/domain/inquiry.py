"""The risk query: what a member may ask, and how the answer is assembled.

Pure: validation of a query item, and turning the facts of the matched
subjects into the answer of SPEC section 10 (the scoring itself is
``domain.scoring``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from refund_registry.domain.identity import KINDS
from refund_registry.domain.reports import PSEUDONYM_BYTES, Fact, Violation, b64url_decode
from refund_registry.domain.scoring import DEFAULT_POLICY, ReportFacts, ScoringPolicy, assess

# A member states why it looks a buyer up; every purpose is logged, and
# auditors see queries whose purpose is neither a refund nor an account matter.
PURPOSES = frozenset(
    {
        "refund_decision",
        "account_review",
        "chargeback_review",
        "fraud_investigation",
        "appeal_handling",
    }
)
MAX_IDENTIFIERS = 10
MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class QueryItem:
    identifiers: tuple[tuple[str, str], ...]  # (kind, pseudonym as sent)
    purpose: str


def validate(item: QueryItem) -> list[Violation]:
    out: list[Violation] = []
    if item.purpose not in PURPOSES:
        out.append(
            Violation(
                "query.purpose",
                "purpose",
                "state a purpose, one of " + ", ".join(sorted(PURPOSES)),
            )
        )
    if not 1 <= len(item.identifiers) <= MAX_IDENTIFIERS:
        out.append(Violation("query.identifiers_count", "identifiers", f"1 to {MAX_IDENTIFIERS}"))
    seen: set[str] = set()  # a pseudonym is keyed without its kind
    for i, (kind, pseudonym) in enumerate(item.identifiers):
        where = f"identifiers[{i}]"
        if kind not in KINDS:
            out.append(
                Violation(
                    "query.identifier_kind",
                    where + ".kind",
                    "must be one of " + ", ".join(sorted(KINDS)),
                )
            )
        raw = b64url_decode(pseudonym)
        if raw is None or len(raw) != PSEUDONYM_BYTES:
            out.append(
                Violation(
                    "query.pseudonym",
                    where + ".pseudonym",
                    "must be 86 base64url characters (64 bytes)",
                )
            )
        if pseudonym in seen:
            out.append(Violation("query.identifiers_duplicate", where, "listed twice"))
        seen.add(pseudonym)
    return out


@dataclass(frozen=True, slots=True)
class Subject:
    """What the registry holds on one subject key."""

    kind: str
    facts: Sequence[Fact]
    statement: str | None


def _report_facts(fact: Fact) -> ReportFacts:
    return ReportFacts(
        report_id=fact["id"],
        member_id=fact["m"],
        category=fact["c"],
        amount_minor=fact["a"],
        currency=fact["cur"],
        confirmed_at=datetime.fromisoformat(fact["t"]),
        status=fact["s"],
    )


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def answer(
    kinds: Sequence[str],
    subjects: Sequence[Subject | None],
    as_of: datetime,
    *,
    notice: str,
    policy: ScoringPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """The risk answer for one query item, before ``query_id`` and ``receipt``.

    ``subjects[i]`` is what is held on the i-th identifier (``None``: nothing).
    Matching is per identifier: a report found through two identifiers counts
    once, and nothing is linked transitively.
    """
    by_id: dict[str, Fact] = {}
    matched: list[str] = []
    statements: list[str] = []
    for kind, subject in zip(kinds, subjects, strict=True):
        if subject is None:
            continue
        if subject.facts and kind not in matched:
            matched.append(kind)
        for fact in subject.facts:
            by_id[fact["id"]] = fact
        if subject.statement and subject.statement not in statements:
            statements.append(subject.statement)
    statement = " / ".join(statements) or None
    assessment = assess(
        [_report_facts(f) for f in by_id.values()], as_of, statement=statement, policy=policy
    )
    counts = assessment.counts
    return {
        "score": assessment.score,
        "band": assessment.band,
        "reasons": [{"code": r.code, "text": r.text} for r in assessment.reasons],
        "matched_kinds": matched,
        "counts": {
            "active_reports": counts.active_reports,
            "platforms": counts.platforms,
            "disputed": counts.disputed,
        },
        "latest_confirmed_at": _iso(counts.latest_confirmed_at),
        "statement": statement,
        "notice": notice,
    }


def subject_from_row(row: Mapping[str, Any]) -> Subject:
    return Subject(kind=row["kind"], facts=row["facts"], statement=row["statement"])
