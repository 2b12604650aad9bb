"""The scoring policy: every weight of the rule, validated and compiled once.

``ScoringPolicy`` holds the published defaults of ``docs/scoring.md``. Building
one converts each factor to parts-per-million ("ppm", 1.0 = 1,000,000),
rounded to the nearest ppm, and tabulates the recency decay with ``decimal``,
whose results do not depend on the platform's maths library; the hot path in
``assessment`` then only looks values up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal
from itertools import pairwise
from types import MappingProxyType
from typing import Final, Literal

Band = Literal["none", "low", "medium", "high", "severe"]
BANDS: Final[tuple[Band, ...]] = ("none", "low", "medium", "high", "severe")

CATEGORIES: Final[tuple[str, ...]] = (
    "ai_forged_evidence",
    "fabricated_damage_claim",
    "empty_box_or_switched_return",
    "false_not_received_claim",
    "refund_only_abuse",
    "chargeback_fraud",
    "other",
)
COUNTING_STATUSES: Final[frozenset[str]] = frozenset({"active", "disputed"})
NON_COUNTING_STATUSES: Final[frozenset[str]] = frozenset({"retracted", "overturned", "expired"})
STATUSES: Final[frozenset[str]] = COUNTING_STATUSES | NON_COUNTING_STATUSES

PPM: Final = 1_000_000
"""1.0 in parts-per-million, the fixed-point unit of every factor and weight."""
PPM2: Final = PPM * PPM


def _default_severity() -> Mapping[str, float]:
    return {
        "ai_forged_evidence": 1.00,
        "fabricated_damage_claim": 0.90,
        "empty_box_or_switched_return": 0.90,
        "chargeback_fraud": 0.80,
        "false_not_received_claim": 0.80,
        "refund_only_abuse": 0.65,
        "other": 0.50,
    }


def _default_amount_tiers() -> Mapping[str, tuple[tuple[int, float], ...]]:
    # Lower bounds in minor units (fen). 500 CNY is also where retention goes
    # from 2 years to 3 (RetentionPolicy in domain/reports.py).
    return {
        "CNY": (
            (0, 0.55),
            (10_000, 0.70),  # 100 CNY
            (50_000, 0.85),  # 500 CNY
            (200_000, 1.00),  # 2,000 CNY
        ),
    }


def _ppm(name: str, value: float, *, low: float = 0.0, low_open: bool = True) -> int:
    """Convert a factor to ppm, refusing values outside (low, 1]."""
    if not (low < value <= 1.0 if low_open else low <= value <= 1.0):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, 1], got {value!r}")
    return round(value * PPM)


def _decay_table(half_life_days: int, floor_ppm: int) -> tuple[int, ...]:
    """Recency factor by whole days of age: ``2 ** (-days / half_life)`` in
    ppm, clamped at the floor; the last entry is the floor and applies to
    every older age.

    Computed with ``decimal`` (a software implementation, correctly rounded
    ``exp`` and ``ln``) so the table, and therefore every score, is the same
    on every machine. Rounding is monotone, so the table never increases.
    """
    ctx = Context(prec=34)
    ln2 = ctx.ln(Decimal(2))
    step = ctx.divide(ln2, Decimal(half_life_days))
    scale = Decimal(PPM)
    table: list[int] = []
    days = 0
    while True:
        value = ctx.multiply(ctx.exp(ctx.multiply(step, Decimal(-days))), scale)
        ppm = int(value.to_integral_value(rounding=ROUND_HALF_EVEN, context=ctx))
        if ppm <= floor_ppm:
            table.append(floor_ppm)
            return tuple(table)
        table.append(ppm)
        days += 1


@dataclass(frozen=True)
class ScoringPolicy:
    """Every weight of the rule, with the published defaults.

    Construction validates each value (``ValueError`` names the field) and
    compiles the lookup tables the hot path uses, so ``assess`` does no policy
    work per call. The strict properties in ``docs/scoring.md`` are proven for
    the defaults; re-run ``tests/unit/test_scoring.py`` against any other
    policy before using it.

    Not hashable (it holds mappings); build it once and pass it in.
    """

    #: Severity of each category in ``CATEGORIES``, in (0, 1]. Must include
    #: ``other``, which also scores any category this policy does not list, so
    #: that a category added to the ledger before the policy is never overstated.
    category_severity: Mapping[str, float] = field(default_factory=_default_severity)
    #: Age in days at which a report's weight halves.
    recency_half_life_days: int = 180
    #: The decay stops here: an old report still counts until it expires under
    #: the retention rules, which is what takes it off the record.
    recency_floor: float = 0.25
    #: Per currency: ascending ``(lower bound in minor units, factor)`` tiers;
    #: the first bound is 0 and factors never decrease.
    amount_tiers: Mapping[str, tuple[tuple[int, float], ...]] = field(
        default_factory=_default_amount_tiers
    )
    #: Factor for a currency without tiers. Amounts in an unknown currency
    #: cannot be compared, so they get the lowest factor rather than a guess.
    unknown_currency_factor: float = 0.55
    #: A report whose amount factor is at least this earns ``high_refund_amount``.
    high_amount_factor: float = 0.85
    #: Each further report from the same platform counts this much of the one
    #: before it (largest first): repetition on one platform has diminishing
    #: returns, so a single platform alone stays below ``1 / (1 - r)``.
    repeat_factor: float = 0.5
    #: Extra weight per additional distinct reporting platform ...
    corroboration_bonus: float = 0.25
    #: ... for at most this many additional platforms.
    corroboration_cap: int = 4
    #: A disputed report (under appeal) counts this fraction of its weight.
    dispute_factor: float = 0.5
    #: Composite weight at which the score is half of ``max_score``.
    half_saturation: float = 1.0
    #: Lowest score of each band (with at least one counting report; below
    #: ``band_medium`` it is ``low``).
    band_medium: int = 300
    band_high: int = 600
    band_severe: int = 800
    max_score: int = 1000
    #: At most this many reasons; the notices (appeal, statement) always fit.
    max_reasons: int = 4

    # Compiled tables, derived from the fields above.
    _sev_active: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _sev_disputed: Mapping[str, int] = field(init=False, repr=False, compare=False)
    _amount: Mapping[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(
        init=False, repr=False, compare=False
    )
    _unknown_amount: int = field(init=False, repr=False, compare=False)
    _high_amount: int = field(init=False, repr=False, compare=False)
    _decay: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _repeat: int = field(init=False, repr=False, compare=False)
    _corroboration: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _half: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setf = object.__setattr__  # the documented way to initialise a frozen dataclass

        severity = dict(self.category_severity)
        if "other" not in severity:
            raise ValueError("category_severity must include 'other'")
        unknown_categories = sorted(set(severity) - set(CATEGORIES))
        if unknown_categories:
            # Each category needs its own stable reason code before it can be scored.
            raise ValueError(f"category_severity has unknown categories {unknown_categories}")
        dispute = _ppm("dispute_factor", self.dispute_factor)
        if dispute == PPM:
            raise ValueError("dispute_factor must be below 1: a disputed report counts less")
        sev_active = {c: _ppm(f"category_severity[{c!r}]", s) for c, s in severity.items()}
        sev_disputed = {c: s * dispute // PPM for c, s in sev_active.items()}
        if min(sev_disputed.values()) < 1:
            raise ValueError("a disputed report must keep a positive weight")
        setf(self, "category_severity", MappingProxyType(severity))
        setf(self, "_sev_active", MappingProxyType(sev_active))
        setf(self, "_sev_disputed", MappingProxyType(sev_disputed))

        setf(self, "_unknown_amount", _ppm("unknown_currency_factor", self.unknown_currency_factor))
        tiers = {cur: tuple(tuple(t) for t in ts) for cur, ts in self.amount_tiers.items()}
        compiled: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        for cur, ts in tiers.items():
            bounds = tuple(int(b) for b, _ in ts)
            factors = tuple(_ppm(f"amount_tiers[{cur!r}] factor", f) for _, f in ts)
            if not bounds or bounds[0] != 0:
                raise ValueError(f"amount_tiers[{cur!r}] must start at 0")
            if any(a >= b for a, b in pairwise(bounds)):
                raise ValueError(f"amount_tiers[{cur!r}] bounds must increase")
            if any(a > b for a, b in pairwise(factors)):
                raise ValueError(f"amount_tiers[{cur!r}] factors must not decrease")
            compiled[cur] = (bounds, factors)
        setf(self, "amount_tiers", MappingProxyType(tiers))
        setf(self, "_amount", MappingProxyType(compiled))
        setf(self, "_high_amount", _ppm("high_amount_factor", self.high_amount_factor))

        if not 1 <= self.recency_half_life_days <= 3650:
            raise ValueError("recency_half_life_days must be in 1..3650")
        floor = _ppm("recency_floor", self.recency_floor, low=0.01, low_open=False)
        setf(self, "_decay", _decay_table(self.recency_half_life_days, floor))

        repeat = _ppm("repeat_factor", self.repeat_factor, low=0.0, low_open=False)
        if repeat == PPM:
            raise ValueError("repeat_factor must be below 1: repetition has diminishing returns")
        setf(self, "_repeat", repeat)
        if not 0.0 < self.corroboration_bonus <= 10.0:
            raise ValueError("corroboration_bonus must be in (0, 10]")
        if not 1 <= self.corroboration_cap <= 100:
            raise ValueError("corroboration_cap must be in 1..100")
        bonus = round(self.corroboration_bonus * PPM)
        # Index = number of distinct platforms (0 unused); saturates at cap + 1.
        setf(
            self,
            "_corroboration",
            tuple(PPM + bonus * max(0, n - 1) for n in range(self.corroboration_cap + 2)),
        )

        if not 0.0 < self.half_saturation <= 1000.0:
            raise ValueError("half_saturation must be in (0, 1000]")
        setf(self, "_half", round(self.half_saturation * PPM))
        if not 10 <= self.max_score <= 1_000_000:
            raise ValueError("max_score must be in 10..1000000")
        if not 0 < self.band_medium < self.band_high < self.band_severe < self.max_score:
            raise ValueError("band cut-offs must satisfy 0 < medium < high < severe < max_score")
        if self.max_reasons < 3:
            raise ValueError("max_reasons must be at least 3 (two notices + one reason)")


DEFAULT_POLICY: Final = ScoringPolicy()


def band_for_score(score: int, policy: ScoringPolicy = DEFAULT_POLICY) -> Band:
    """Band of a record that has at least one counting report.

    ``none`` is not a score range: it means "no counting report", which
    ``assess`` decides from the reports, so this never returns it.
    """
    if score >= policy.band_severe:
        return "severe"
    if score >= policy.band_high:
        return "high"
    if score >= policy.band_medium:
        return "medium"
    return "low"
