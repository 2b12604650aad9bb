"""Intake rules: what a filing must satisfy before it touches the ledger.

Validation of single and bulk filings, report-id minting, the keying of a
report's identifiers and the refusal a member sees. Pure: the caller passes
the time, the keyring and the random bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import msgspec

from refund_registry.domain import reports as rules
from refund_registry.domain.identity import KINDS
from refund_registry.domain.keyring import Keyring
from refund_registry.domain.scoring import CATEGORIES
from refund_registry.domain.wire import decode_all
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


class Prepared(msgspec.Struct, frozen=True, gc=False):
    """A validated report with its subject keys computed (``index``: its place
    in a bulk upload). Untracked by the garbage collector, as ``ReportInput``."""

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
    passing = prepare_passing(keyring, reports, ids, now)
    if passing is not None:
        return passing
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


# -- bulk uploads that pass: one pass, every value decoded and keyed once --------


def passes(report: rules.ReportInput, now: datetime) -> bool:
    """Whether ``rules.validate`` finds nothing to say, *given* that the report's
    pseudonyms and evidence digest decode (checked apart, by ``decode_all``).

    A bulk upload asks this of every report first: one pass with no list of
    violations and no decoding per value. Only when some report fails does
    the upload go through ``rules.validate``, which names every broken rule.
    """
    proof = report.standard_of_proof
    kinds = report.evidence_kinds
    kind_set = set(kinds)
    idents = report.identifiers
    confirmed = report.confirmed_at
    return (
        1 <= len(report.case_reference) <= 128
        and bool(report.case_reference.strip())
        and all(proof.get(p) is True for p in rules.PROOF_PARTS)
        and bool(kinds)
        and kind_set <= rules.EVIDENCE_KINDS
        and len(kind_set) == len(kinds)
        and kind_set != _DETECTOR_ONLY
        and report.category in _CATEGORIES
        and 0 < report.amount_minor <= rules.MAX_AMOUNT_MINOR
        and report.currency in rules.CURRENCIES
        and report.order_date.year >= rules.EARLIEST_YEAR
        and confirmed.year >= rules.EARLIEST_YEAR
        and report.buyer_notified_at.year >= rules.EARLIEST_YEAR
        and report.refund_date >= report.order_date
        and confirmed <= now
        and confirmed.date() >= report.order_date
        and report.buyer_notified_at <= now
        and 1 <= len(idents) <= rules.MAX_IDENTIFIERS
        and all(i.kind in KINDS for i in idents)
        and len({i.pseudonym for i in idents}) == len(idents)
    )


_DETECTOR_ONLY = frozenset({"ai_detector"})
_CATEGORIES = frozenset(CATEGORIES)


def prepare_passing(
    keyring: Keyring,
    reports: Sequence[rules.ReportInput],
    ids: Sequence[str],
    now: datetime,
) -> list[Prepared] | None:
    """``prepare_bulk`` of an upload none of whose reports breaks a rule; None
    when one does (or a case reference repeats), for ``prepare_bulk`` to name them."""
    if len({r.case_reference for r in reports}) != len(reports):
        return None
    if not all([passes(r, now) for r in reports]):
        return None
    raw = decode_all([i.pseudonym for r in reports for i in r.identifiers], rules.PSEUDONYM_BYTES)
    digests = decode_all([r.evidence_digest for r in reports], 32)
    if raw is None or digests is None:
        return None
    subject_key = keyring.subject_key
    keys = [subject_key(p) for p in raw]
    hashes = request_hashes(reports)
    out = []
    at = 0
    for index, (report, digest) in enumerate(zip(reports, digests, strict=True)):
        n = len(report.identifiers)
        out.append(
            Prepared(
                id=ids[index],
                report=report,
                request_hash=hashes[index],
                keys=tuple(keys[at : at + n]),
                kinds=tuple([i.kind for i in report.identifiers]),
                digest=digest,
                index=index,
            )
        )
        at += n
    return out


def request_hashes(reports: Sequence[rules.ReportInput]) -> list[bytes]:
    """``rules.request_hash`` of each report that ``passes``, spelled out once for
    all: the dates and evidence kinds of an upload repeat, so each distinct one
    is written once; every part of the standard of proof is attested (``passes``)."""
    days: dict[date, str] = {}
    evidence: dict[tuple[str, ...], str] = {}
    proof = ",".join(rules.PROOF_PARTS)
    sha256 = hashlib.sha256
    out = []
    for r in reports:
        idents = r.identifiers
        if len(idents) == 2:
            a = idents[0].kind + ":" + idents[0].pseudonym
            b = idents[1].kind + ":" + idents[1].pseudonym
            who = a + "|" + b if a <= b else b + "|" + a
        else:
            who = "|".join(sorted([i.kind + ":" + i.pseudonym for i in idents]))
        order = days.get(r.order_date)
        if order is None:
            order = days[r.order_date] = r.order_date.isoformat()
        refund = days.get(r.refund_date)
        if refund is None:
            refund = days[r.refund_date] = r.refund_date.isoformat()
        kinds = evidence.get(r.evidence_kinds)
        if kinds is None:
            kinds = evidence[r.evidence_kinds] = ",".join(sorted(r.evidence_kinds))
        text = "\x1f".join([
            r.case_reference, who, r.category, str(r.amount_minor), r.currency, order, refund,
            r.confirmed_at.astimezone(UTC).isoformat(),
            r.buyer_notified_at.astimezone(UTC).isoformat(), kinds, r.evidence_digest, proof,
        ])  # fmt: skip
        out.append(sha256(text.encode()).digest())
    return out


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


def first_expiries(
    reports: Sequence[rules.ReportInput], policy: rules.RetentionPolicy
) -> list[datetime]:
    """``expiry_of(r, policy, repeat=False)`` of every report, each period worked
    out once for all of them."""
    small = rules.years_span(policy.small_case_years)
    default = rules.years_span(policy.default_years)
    limits = policy.small_case_limits
    return [
        r.confirmed_at + (small if r.amount_minor < limits.get(r.currency, 0) else default)
        for r in reports
    ]


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
