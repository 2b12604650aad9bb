"""A deliberately naive scorer, written from docs/scoring.md and not from the code.

It is slow on purpose: exact ``Fraction`` arithmetic, one report at a time, each
step spelled out as the page states it, with no precomputed tables. It shares
no code with ``refund_registry.domain.scoring``: the defaults and the reason
texts below are copied from the page's tables, so a test that cross-checks the
two also checks the page.

The page's rounding, made exact:

* a policy's factors are whole parts-per-million (ppm); values passed in here
  are ``Fraction``s on that grid;
* the recency factor is ``2^(-age / half_life)`` rounded to the nearest ppm
  (the page's recency table and worked example round that way), never below
  the floor; it is decided here with exact integer powers, not with ``decimal``;
* every step of the formula rounds *down* to a whole ppm: the disputed
  severity (the worked example's "the same, disputed" row), the weight ``w``,
  each ``⌊P·r⌋``, the composite ``X`` and the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cache
from math import floor

F = Fraction
MILLION = 10**6

# "A report whose status the rule does not know is refused".
COUNTING = ("active", "disputed")
NOT_COUNTING = ("retracted", "overturned", "expired")

# The "Reason codes" table, in its order, which is also the tie-break order.
TEXT: dict[str, str] = {
    "corroborated_by_several_platforms": (
        "Confirmed cases were reported independently by more than one platform."
    ),
    "repeated_reports_one_platform": "One platform has confirmed more than one case.",
    "ai_forged_evidence": (
        "A platform confirmed that photos or other evidence sent to get a refund were made "
        "or altered with AI or editing tools."
    ),
    "fabricated_damage_claim": (
        "A platform confirmed a refund claim for damage or defects that did not exist."
    ),
    "empty_box_or_switched_return": (
        "A platform confirmed a return that was empty or held a different item."
    ),
    "false_not_received_claim": "A platform confirmed a false claim that an order never arrived.",
    "refund_only_abuse": (
        "A platform confirmed misuse of 'refund only' (keeping the goods and also getting "
        "the money back)."
    ),
    "chargeback_fraud": (
        "A platform confirmed a card or payment dispute (chargeback) made for an order that "
        "had been delivered as ordered."
    ),
    "other_refund_fraud": "A platform confirmed another kind of refund fraud.",
    "single_confirmed_case": "There is one confirmed case on record.",
    "recent_confirmed_case": "A case was confirmed in the last 90 days.",
    "high_refund_amount": "At least one of the refunds involved was for a large amount.",
    "record_under_appeal": (
        "The buyer is appealing at least one case; it counts for less until the appeal is decided."
    ),
    "buyer_statement_attached": (
        "The buyer has added a statement to their record; please read it before deciding."
    ),
}
TIE_ORDER = list(TEXT)
RECENT_DAYS = 90

# The "Default weights" table (severities and tiers are in Policy below).
UNKNOWN_CURRENCY_FACTOR = F("0.55")
HIGH_AMOUNT_FACTOR = F("0.85")
RECENCY_FLOOR = F("0.25")
REPEAT_FACTOR = F("0.5")
CORROBORATION_BONUS = F("0.25")
DISPUTE_FACTOR = F("0.5")
HALF_SATURATION = F("1.0")


@dataclass(frozen=True)
class Policy:
    """The settings of the "Default weights" table, as exact fractions."""

    severity: Mapping[str, Fraction] = field(
        default_factory=lambda: {
            "ai_forged_evidence": F("1.00"),
            "fabricated_damage_claim": F("0.90"),
            "empty_box_or_switched_return": F("0.90"),
            "chargeback_fraud": F("0.80"),
            "false_not_received_claim": F("0.80"),
            "refund_only_abuse": F("0.65"),
            "other": F("0.50"),
        }
    )
    # Per currency, (lowest amount in minor units, factor); fen for CNY.
    amount_tiers: Mapping[str, Sequence[tuple[int, Fraction]]] = field(
        default_factory=lambda: {
            "CNY": [(0, F("0.55")), (100_00, F("0.70")), (500_00, F("0.85")), (2_000_00, F("1"))]
        }
    )
    unknown_currency_factor: Fraction = UNKNOWN_CURRENCY_FACTOR
    high_amount_factor: Fraction = HIGH_AMOUNT_FACTOR
    recency_half_life_days: int = 180
    recency_floor: Fraction = RECENCY_FLOOR
    repeat_factor: Fraction = REPEAT_FACTOR
    corroboration_bonus: Fraction = CORROBORATION_BONUS
    corroboration_cap: int = 4
    dispute_factor: Fraction = DISPUTE_FACTOR
    half_saturation: Fraction = HALF_SATURATION
    band_medium: int = 300
    band_high: int = 600
    band_severe: int = 800
    max_score: int = 1000
    max_reasons: int = 4


@dataclass(frozen=True)
class Report:
    member: str
    category: str
    amount_minor: int
    currency: str
    confirmed_at: datetime
    status: str


@dataclass(frozen=True)
class Answer:
    score: int
    band: str
    reasons: list[tuple[str, str]]
    active: int
    platforms: int
    disputed: int
    latest: datetime | None


def down(x: Fraction) -> Fraction:
    """Round down to a whole ppm."""
    return F(floor(x * MILLION), MILLION)


@cache
def recency(age_days: int, half_life: int, floor_value: Fraction) -> Fraction:
    """``2^(-age / half_life)`` to the nearest ppm, but never below the floor.

    The nearest ppm is the largest ``n`` with ``n - 1/2 <= 10^6 * 2^(-age/h)``;
    raising both sides to the power ``h`` keeps everything an integer:
    ``(2n - 1)^h * 2^age <= (2 * 10^6)^h``.
    """
    h = half_life
    rhs = (2 * MILLION) ** h
    lo, hi = 0, MILLION  # the answer is in [lo, hi]
    while lo < hi:
        n = (lo + hi + 1) // 2
        if (2 * n - 1) ** h * 2**age_days <= rhs:
            lo = n
        else:
            hi = n - 1
    return max(F(lo, MILLION), floor_value)


def amount_factor(policy: Policy, amount: int, currency: str) -> Fraction:
    tiers = policy.amount_tiers.get(currency)
    if tiers is None:
        return policy.unknown_currency_factor
    factor = tiers[0][1]
    for lowest, f in tiers:
        if amount >= lowest:
            factor = f
    return factor


def lowest_amount_factor(policy: Policy, currency: str) -> Fraction:
    tiers = policy.amount_tiers.get(currency)
    return policy.unknown_currency_factor if tiers is None else tiers[0][1]


def assess(
    reports: Sequence[Report],
    as_of: datetime,
    statement: str | None = None,
    policy: Policy | None = None,
) -> Answer:
    p = policy or Policy()
    counting = []
    for r in reports:
        if r.status not in COUNTING + NOT_COUNTING:
            raise ValueError(f"unknown status {r.status!r}")
        if r.status in COUNTING:
            counting.append(r)
    if not counting:
        return Answer(0, "none", [], 0, 0, 0, None)

    # 1. The weight of each report (and the pieces the reasons need).
    weights = []  # (report, category, w, w at the recency floor, w at the lowest tier, age)
    for r in counting:
        category = r.category if r.category in p.severity else "other"
        severity = p.severity[category]
        if r.status == "disputed":
            severity = down(severity * p.dispute_factor)
        age = max(0, (as_of - r.confirmed_at) // timedelta(days=1))
        rec = recency(age, p.recency_half_life_days, p.recency_floor)
        amt = amount_factor(p, r.amount_minor, r.currency)
        w = down(severity * amt * rec)
        w_floor = down(severity * amt * p.recency_floor)
        w_lowest = down(severity * lowest_amount_factor(p, r.currency) * rec)
        weights.append((r, category, w, w_floor, w_lowest, age))

    # 2. Per platform, from the smallest up: P <- w + floor(P * r).
    members = sorted({r.member for r in counting})
    platform_value = {}
    for m in members:
        ws = sorted(w for r, _, w, _, _, _ in weights if r.member == m)
        total = F(0)
        for w in ws:
            total = w + down(total * p.repeat_factor)
        platform_value[m] = total

    # 3. Across platforms.
    n = len(members)
    x = down(
        sum(platform_value.values(), F(0))
        * (1 + p.corroboration_bonus * min(n - 1, p.corroboration_cap))
    )

    # 4. The score, at least 1 for a record with a counting report.
    score = max(1, floor(p.max_score * x / (x + p.half_saturation)))

    # 5. The band.
    if score >= p.band_severe:
        band = "severe"
    elif score >= p.band_high:
        band = "high"
    elif score >= p.band_medium:
        band = "medium"
    else:
        band = "low"

    # Reasons, with their contributions.
    candidates: dict[str, Fraction] = {}
    for _, category, w, _, _, _ in weights:
        code = "other_refund_fraud" if category == "other" else category
        candidates[code] = candidates.get(code, F(0)) + w
    if n >= 2:
        candidates["corroborated_by_several_platforms"] = x - max(platform_value.values())
    if any(sum(1 for r in counting if r.member == m) >= 2 for m in members):
        candidates["repeated_reports_one_platform"] = sum(
            (
                platform_value[m] - max(w for r, _, w, _, _, _ in weights if r.member == m)
                for m in members
            ),
            F(0),
        )
    if len(counting) == 1:
        candidates["single_confirmed_case"] = weights[0][2]
    recent = [(w, w_floor) for _, _, w, w_floor, _, age in weights if age < RECENT_DAYS]
    if recent:
        candidates["recent_confirmed_case"] = sum((w - wf for w, wf in recent), F(0))
    high = [
        (w, w_lowest)
        for r, _, w, _, w_lowest, _ in weights
        if amount_factor(p, r.amount_minor, r.currency) >= p.high_amount_factor
    ]
    if high:
        candidates["high_refund_amount"] = sum((w - wl for w, wl in high), F(0))
    ranked = sorted(candidates, key=lambda code: (-candidates[code], TIE_ORDER.index(code)))

    notices = []
    if any(r.status == "disputed" for r in counting):
        notices.append("record_under_appeal")
    if statement is not None and statement.strip() != "":
        notices.append("buyer_statement_attached")
    codes = ranked[: p.max_reasons - len(notices)] + notices

    return Answer(
        score=score,
        band=band,
        reasons=[(code, TEXT[code]) for code in codes],
        active=sum(1 for r in counting if r.status == "active"),
        platforms=n,
        disputed=sum(1 for r in counting if r.status == "disputed"),
        latest=min(max(r.confirmed_at for r in counting), as_of),
    )
