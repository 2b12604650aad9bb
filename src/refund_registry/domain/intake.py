"""Intake rules: what a filing must satisfy before it touches the ledger.

Validation of single and bulk filings, report-id minting, the keying of a
report's identifiers and the refusal a member sees. Pure: the caller passes
the time, the keyring and the random bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import msgspec

from refund_registry.domain import reports as rules
from refund_registry.domain.keyring import Keyring
from refund_registry.errors import InvalidInput

MAX_BULK = 10_000
ID_ENTROPY_BYTES = 8
"""Random bytes per report id (64 bits)."""


def new_report_ids(millis: int, entropy: bytes) -> list[str]:
    """``rpt_`` + ``millis`` (milliseconds since 1970, 12 hex digits) + 64 random bits
    per id, one id per ``ID_ENTROPY_BYTES`` of ``entropy``.

    Time-ordered, so the indexes on report ids grow at their right edge
    instead of touching a random page per report; the random parts come from
    one draw of the system's generator per batch (the caller's ``entropy``).
    """
    stamp = f"rpt_{millis:012x}"
    block = entropy.hex()
    step = 2 * ID_ENTROPY_BYTES
    return [stamp + block[i : i + step] for i in range(0, len(block), step)]


def refusal(violations: Sequence[rules.Violation]) -> InvalidInput:
    """A 422 naming the first broken rule, and listing every one."""
    first = violations[0]
    return InvalidInput(
        f"{first.field}: {first.detail}",
        code=first.code,
        extra={"violations": [asdict(v) for v in violations]},
    )


class Prepared(msgspec.Struct, frozen=True):
    """A validated report with its subject keys computed (``index``: its place
    in a bulk upload)."""

    id: str
    report: rules.ReportInput
    request_hash: bytes
    keys: tuple[bytes, ...]
    kinds: tuple[str, ...]
    digest: bytes
    index: int = 0


def key_report(
    keyring: Keyring, report: rules.ReportInput, report_id: str, index: int = 0
) -> Prepared:
    """Key a report that passed ``rules.validate`` (its pseudonyms and digest decode)."""
    keys = []
    for ident in report.identifiers:
        raw = rules.b64url_decode(ident.pseudonym)
        assert raw is not None  # validated
        keys.append(keyring.subject_key(raw))
    digest = rules.b64url_decode(report.evidence_digest)
    assert digest is not None
    return Prepared(
        id=report_id,
        report=report,
        request_hash=rules.request_hash(report),
        keys=tuple(keys),
        kinds=tuple(i.kind for i in report.identifiers),
        digest=digest,
        index=index,
    )


def prepare_one(
    keyring: Keyring, report: rules.ReportInput, report_id: str, now: datetime
) -> Prepared:
    """Validate one report (raising on the first broken rules) and key it."""
    violations = rules.validate(report, now)
    if violations:
        raise refusal(violations)
    return key_report(keyring, report, report_id)


def check_bulk_size(count: int) -> None:
    if not 1 <= count <= MAX_BULK:
        raise InvalidInput(f"a bulk upload holds 1 to {MAX_BULK} reports", code="bulk.size")


def prepare_bulk(
    keyring: Keyring,
    reports: Sequence[rules.ReportInput],
    ids: Sequence[str],
    now: datetime,
) -> list[Prepared]:
    """Validate a whole upload and key it; all or nothing.

    One invalid report (or a case reference used twice in the batch) refuses
    the upload, naming every bad item; ``ids[i]`` becomes the id of
    ``reports[i]``. Keying stops at the first invalid item: nothing keyed
    afterwards would be used.
    """
    invalid: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    prepared: list[Prepared] = []
    for index, report in enumerate(reports):
        violations = rules.validate(report, now)
        if report.case_reference in seen:
            violations.append(
                rules.Violation(
                    "report.duplicate_in_batch",
                    "case_reference",
                    f"also used by item {seen[report.case_reference]}",
                )
            )
        seen.setdefault(report.case_reference, index)
        if violations:
            invalid.append({"index": index, "violations": [asdict(v) for v in violations]})
        elif not invalid:
            prepared.append(key_report(keyring, report, ids[index], index))
    if invalid:
        raise InvalidInput(
            f"{len(invalid)} of {len(reports)} reports are invalid; nothing was filed",
            code="bulk.invalid_items",
            extra={"invalid_items": invalid},
        )
    return prepared


def bulk_retention_refusal(ended: Sequence[tuple[int, rules.Violation]]) -> InvalidInput:
    """The refusal of an upload some of whose reports (``(index, violation)``)
    could not count for a single day."""
    return InvalidInput(
        f"{len(ended)} reports could not count for a single day; nothing was filed",
        code="bulk.invalid_items",
        extra={"invalid_items": [{"index": i, "violations": [asdict(v)]} for i, v in ended]},
    )


def fact_of(p: Prepared, member_id: str) -> rules.Fact:
    """The fact a newly filed report adds to each of its subjects' aggregates."""
    r = p.report
    return rules.make_fact(p.id, member_id, r.category, r.amount_minor, r.currency, r.confirmed_at)


def expiry_of(
    report: rules.ReportInput, policy: rules.RetentionPolicy, *, repeat: bool
) -> datetime:
    """When a report stops counting: ``repeat`` if another member reported the buyer."""
    return rules.retention_until(
        report.confirmed_at,
        report.amount_minor,
        report.currency,
        repeat_across_platforms=repeat,
        policy=policy,
    )
