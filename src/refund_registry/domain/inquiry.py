"""The risk query: what a member may ask, and how the answer is assembled.

Pure: validation of a query item, and turning the facts of the matched
subjects into the answer of docs/contract.md (the scoring itself is
``domain.scoring``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from refund_registry.domain.identity import KINDS
from refund_registry.domain.reports import (
    MAX_IDENTIFIERS,
    Fact,
    Violation,
    identifier_violations,
)
from refund_registry.domain.scoring import DEFAULT_POLICY, ReportFacts, ScoringPolicy, assess
from refund_registry.domain.wire import iso

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
MAX_BATCH = 1000


class QueryItem(msgspec.Struct, frozen=True):
    """One query; a struct, as a batch builds a thousand (see ``domain/access.py``)."""

    identifiers: tuple[tuple[str, str], ...]  # (kind, pseudonym as sent)
    purpose: str


def repeated_kinds(kinds: Sequence[str]) -> list[int]:
    """The positions of identifiers whose kind an earlier identifier already has.

    A query describes one buyer with at most one identifier of each kind:
    several phone numbers in one query would look up several people for
    the price of one, and turn the query into an enumeration tool.
    """
    seen: set[str] = set()
    repeated: list[int] = []
    for index, kind in enumerate(kinds):
        if kind in seen:
            repeated.append(index)
        seen.add(kind)
    return repeated


def units(items: Sequence[QueryItem]) -> int:
    """What a set of queries costs in the daily quota: one unit per identifier looked up."""
    return sum(len(item.identifiers) for item in items)


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
    out.extend(identifier_violations(item.identifiers, "query"))
    for index in repeated_kinds([kind for kind, _ in item.identifiers]):
        out.append(
            Violation(
                "query.identifier_kind_repeated",
                f"identifiers[{index}].kind",
                "a query names one buyer: at most one identifier of each kind",
            )
        )
    return out


def passes(item: QueryItem) -> bool:
    """Whether :func:`validate` finds nothing to say, *given* that the item's
    pseudonyms decode (checked apart, for a whole request at once, by
    ``wire.decode_all``).

    A query asks this of every item first: one pass with no list of
    violations and no decoding per value. Only when some item fails does it
    go through :func:`validate`, which names every broken rule.
    """
    identifiers = item.identifiers
    count = len(identifiers)
    return (
        item.purpose in PURPOSES
        and 1 <= count <= MAX_IDENTIFIERS
        and len({kind for kind, _ in identifiers}) == count
        and len({pseudonym for _, pseudonym in identifiers}) == count
        and all([kind in KINDS for kind, _ in identifiers])
    )


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
        "latest_confirmed_at": iso(counts.latest_confirmed_at),
        "statement": statement,
        "notice": notice,
    }


def subject_from_row(row: Mapping[str, Any]) -> Subject:
    return Subject(kind=row["kind"], facts=row["facts"], statement=row["statement"])
