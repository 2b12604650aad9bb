"""The risk-query scoring rule: a pure, deterministic function of the matched
reports, the as-of time and a policy.

The rule is published in ``docs/scoring.md``; keep the two in step. The
registry advises and the platform decides: a score is a prompt for review,
never sole grounds for refusing a buyer (PIPL art. 24, GDPR art. 22).

Every per-call computation is integer arithmetic on parts-per-million
("ppm") fixed-point values, so the result is exact, independent of the order
of the input and identical on every machine; the only transcendental function
(the recency decay) is tabulated once per policy with ``decimal``, whose
results do not depend on the platform's maths library.

The shape of the formula, and why each property holds exactly:

1. Each counting report gets a weight ``w`` = severity x amount tier x recency
   decay (x dispute discount), each factor in (0, 1], floored to ppm. Floors
   are monotone, so a more severe, larger or newer report never weighs less,
   and a later as-of never weighs more.
2. Reports of one platform combine by Horner's rule over their weights in
   ascending order, ``P = w + floor(P * r)`` with ``0 < r < 1``: the largest
   report counts in full, the next at ``r``, the next at ``r**2``, and so on.
   Because the ``k``-th smallest of a larger set is at least the ``k``-th
   smallest of a subset, inserting a report never lowers ``P`` (induction
   over the Horner steps), and ``P`` stays below ``max(w) / (1 - r)``.
3. Platforms add up in full and the sum is multiplied by a corroboration
   factor ``1 + b * min(n - 1, cap)``. ``k`` reports on ``k`` platforms give at
   least ``sum(w)``; the same ``k`` reports on one platform give strictly less
   than ``sum(w)``; the margin (at least ``b`` x the one-platform composite)
   is wide enough under the default policy to survive the integer rounding
   below for every ``k >= 2`` (see ``docs/scoring.md``).
4. The composite ``X`` saturates as ``floor(max_score * X / (X + H))``: strictly
   increasing in ``X`` and never reaching ``max_score``, so the highest score
   produced is ``max_score - 1``. A record with any counting report scores at
   least 1.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from refund_registry.domain.scoring.policy import (
    DEFAULT_POLICY,
    NON_COUNTING_STATUSES,
    PPM,
    PPM2,
    Band,
    ScoringPolicy,
    band_for_score,
)
from refund_registry.domain.scoring.reasons import (
    CATEGORY_REASON,
    PRIORITY,
    REASON,
    RECENT_WINDOW_DAYS,
    Reason,
)


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What scoring needs to know about one matched report.

    Preconditions: ``confirmed_at`` is timezone-aware; ``status`` is one of
    ``STATUSES``; ``currency`` is an upper-case ISO 4217 code and
    ``amount_minor`` is in that currency's minor unit (fen for CNY).
    ``member_id`` identifies the reporting platform: corroboration counts
    distinct values of it.
    """

    report_id: str
    member_id: str
    category: str
    amount_minor: int
    currency: str
    confirmed_at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class Counts:
    """Counts over the matched reports.

    ``active_reports`` and ``disputed`` count reports in those statuses;
    ``platforms`` counts distinct reporting members among them;
    ``latest_confirmed_at`` is the latest confirmation among them, never later
    than the as-of time (``None`` when nothing counts).
    """

    active_reports: int
    platforms: int
    disputed: int
    latest_confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Assessment:
    """The answer: ``score`` in 0..max_score, ``band``, at most
    ``max_reasons`` reasons (most important first), and the counts."""

    score: int
    band: Band
    reasons: tuple[Reason, ...]
    counts: Counts


_R_CORROBORATED: Final = REASON["corroborated_by_several_platforms"]
_R_REPEATED: Final = REASON["repeated_reports_one_platform"]
_R_SINGLE: Final = REASON["single_confirmed_case"]
_R_RECENT: Final = REASON["recent_confirmed_case"]
_R_HIGH: Final = REASON["high_refund_amount"]
_R_APPEAL: Final = REASON["record_under_appeal"]
_R_STATEMENT: Final = REASON["buyer_statement_attached"]
_P_CORROBORATED: Final = PRIORITY["corroborated_by_several_platforms"]
_P_REPEATED: Final = PRIORITY["repeated_reports_one_platform"]
_P_SINGLE: Final = PRIORITY["single_confirmed_case"]
_P_RECENT: Final = PRIORITY["recent_confirmed_case"]
_P_HIGH: Final = PRIORITY["high_refund_amount"]

_NOTHING: Final = Assessment(0, "none", (), Counts(0, 0, 0, None))


def assess(
    reports: Sequence[ReportFacts],
    as_of: datetime,
    *,
    statement: str | None = None,
    policy: ScoringPolicy = DEFAULT_POLICY,
) -> Assessment:
    """Score one buyer's matched reports as of ``as_of``.

    Preconditions: ``as_of`` and every ``confirmed_at`` are timezone-aware
    (``ValueError`` / ``TypeError`` otherwise); every status is in
    ``STATUSES`` (``ValueError`` otherwise: a state this rule does not know
    can be neither safely counted nor safely ignored). Retracted, overturned
    and expired reports are skipped entirely. A report confirmed after
    ``as_of`` is aged 0. ``statement`` is the buyer's attached statement, if
    any; a blank one counts as none.

    The result does not depend on the order of ``reports``.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")

    sev_active = policy._sev_active
    sev_disputed = policy._sev_disputed
    amount_tables = policy._amount
    decay = policy._decay
    last_day = len(decay) - 1
    decay_floor = decay[last_day]
    high_amount = policy._high_amount

    entries: list[tuple[str, int]] = []
    category_weight: dict[str, int] = {}
    n_active = n_disputed = 0
    latest: datetime | None = None
    recent = high = False
    recent_gain = amount_gain = 0

    for r in reports:
        status = r.status
        if status == "active":
            n_active += 1
            table = sev_active
        elif status == "disputed":
            n_disputed += 1
            table = sev_disputed
        elif status in NON_COUNTING_STATUSES:
            continue
        else:
            raise ValueError(f"report {r.report_id!r}: unknown status {status!r}")

        category = r.category
        sev = table.get(category)
        if sev is None:  # unknown category: scored as "other" (the mildest by default)
            category = "other"
            sev = table["other"]

        tiers = amount_tables.get(r.currency)
        if tiers is None:
            amt = lowest = policy._unknown_amount
        else:
            bounds, factors = tiers
            i = bisect_right(bounds, r.amount_minor) - 1
            amt = factors[i if i > 0 else 0]  # a negative amount falls in the first tier
            lowest = factors[0]

        confirmed = r.confirmed_at
        days = (as_of - confirmed).days  # whole days, floored; negative if in the future
        if days < 0:
            days = 0
        dec = decay[days] if days < last_day else decay_floor

        sev_amt = sev * amt
        w = sev_amt * dec // PPM2
        entries.append((r.member_id, w))
        category_weight[category] = category_weight.get(category, 0) + w
        if days < RECENT_WINDOW_DAYS:
            recent = True
            recent_gain += w - sev_amt * decay_floor // PPM2
        if amt >= high_amount:
            high = True
            amount_gain += w - sev * lowest * dec // PPM2
        if latest is None or confirmed > latest:
            latest = confirmed

    if not entries:
        return _NOTHING

    # Per platform: Horner over ascending weights (see the module docstring).
    # Sorting by (member, weight) makes each platform one run, smallest first.
    entries.sort()
    repeat = policy._repeat
    member, p = entries[0]
    prev_w = p
    n_platforms = 1
    total = top_platform = repeat_gain = 0
    repeated = False
    for m, w in entries[1:]:
        if m == member:
            p = w + p * repeat // PPM
            repeated = True
        else:
            total += p
            repeat_gain += p - prev_w  # what this platform's smaller reports added
            if p > top_platform:
                top_platform = p
            member = m
            p = w
            n_platforms += 1
        prev_w = w
    total += p
    repeat_gain += p - prev_w
    if p > top_platform:
        top_platform = p

    corroboration = policy._corroboration
    factor = corroboration[n_platforms if n_platforms < len(corroboration) else -1]
    composite = total * factor // PPM
    score = policy.max_score * composite // (composite + policy._half)
    if score < 1:
        score = 1  # a counting report is never "nothing"

    # Reasons: (negated contribution in ppm of composite weight, tie-break, reason).
    ranked: list[tuple[int, int, Reason]] = [
        (-w, PRIORITY[CATEGORY_REASON[c]], REASON[CATEGORY_REASON[c]])
        for c, w in category_weight.items()
    ]
    if n_platforms > 1:
        ranked.append((top_platform - composite, _P_CORROBORATED, _R_CORROBORATED))
    if repeated:
        ranked.append((-repeat_gain, _P_REPEATED, _R_REPEATED))
    if len(entries) == 1:
        ranked.append((-entries[0][1], _P_SINGLE, _R_SINGLE))
    if recent:
        ranked.append((-recent_gain, _P_RECENT, _R_RECENT))
    if high:
        ranked.append((-amount_gain, _P_HIGH, _R_HIGH))
    ranked.sort()

    notices: tuple[Reason, ...] = ()
    if n_disputed:
        notices = (_R_APPEAL,)
    if statement and not statement.isspace():
        notices = (*notices, _R_STATEMENT)
    room = policy.max_reasons - len(notices)
    reasons = tuple(item[2] for item in ranked[:room]) + notices

    if latest is not None and latest > as_of:
        latest = as_of
    return Assessment(
        score,
        band_for_score(score, policy),
        reasons,
        Counts(n_active, n_platforms, n_disputed, latest),
    )
