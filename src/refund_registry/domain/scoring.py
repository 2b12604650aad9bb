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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from itertools import pairwise
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "BANDS",
    "CATEGORIES",
    "COUNTING_STATUSES",
    "DEFAULT_POLICY",
    "NON_COUNTING_STATUSES",
    "REASON_TEXT",
    "RECENT_WINDOW_DAYS",
    "STATUSES",
    "Assessment",
    "Band",
    "Counts",
    "Reason",
    "ReportFacts",
    "ScoringPolicy",
    "assess",
    "band_for_score",
]

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

# Part of the meaning of the stable code ``recent_confirmed_case``, whose text
# names the window; that is why it is a constant and not a policy knob.
RECENT_WINDOW_DAYS: Final = 90

_PPM: Final = 1_000_000
_PPM2: Final = _PPM * _PPM

# Stable reason codes. Codes never change meaning; text may be reworded.
# Written for the buyer as much as for the platform: no jargon, no score maths.
REASON_TEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "corroborated_by_several_platforms": (
            "Confirmed cases were reported independently by more than one platform."
        ),
        "repeated_reports_one_platform": "One platform has confirmed more than one case.",
        "ai_forged_evidence": (
            "A platform confirmed that photos or other evidence sent to get a refund "
            "were made or altered with AI or editing tools."
        ),
        "fabricated_damage_claim": (
            "A platform confirmed a refund claim for damage or defects that did not exist."
        ),
        "empty_box_or_switched_return": (
            "A platform confirmed a return that was empty or held a different item."
        ),
        "false_not_received_claim": (
            "A platform confirmed a false claim that an order never arrived."
        ),
        "refund_only_abuse": (
            "A platform confirmed misuse of 'refund only' (keeping the goods and also "
            "getting the money back)."
        ),
        "chargeback_fraud": (
            "A platform confirmed a card or payment dispute (chargeback) made for an order "
            "that had been delivered as ordered."
        ),
        "other_refund_fraud": "A platform confirmed another kind of refund fraud.",
        "single_confirmed_case": "There is one confirmed case on record.",
        "recent_confirmed_case": "A case was confirmed in the last 90 days.",
        "high_refund_amount": "At least one of the refunds involved was for a large amount.",
        "record_under_appeal": (
            "The buyer is appealing at least one case; it counts for less until the appeal "
            "is decided."
        ),
        "buyer_statement_attached": (
            "The buyer has added a statement to their record; please read it before deciding."
        ),
    }
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
class Reason:
    """A stable machine-readable ``code`` and its plain-language ``text``."""

    code: str
    text: str


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
    # Lower bounds in minor units (fen). 500 CNY is also the retention
    # threshold in the spec (2 years below it, 3 years at or above).
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
    return round(value * _PPM)


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
    scale = Decimal(_PPM)
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
        if dispute == _PPM:
            raise ValueError("dispute_factor must be below 1: a disputed report counts less")
        sev_active = {c: _ppm(f"category_severity[{c!r}]", s) for c, s in severity.items()}
        sev_disputed = {c: s * dispute // _PPM for c, s in sev_active.items()}
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
        if repeat == _PPM:
            raise ValueError("repeat_factor must be below 1: repetition has diminishing returns")
        setf(self, "_repeat", repeat)
        if not 0.0 < self.corroboration_bonus <= 10.0:
            raise ValueError("corroboration_bonus must be in (0, 10]")
        if not 1 <= self.corroboration_cap <= 100:
            raise ValueError("corroboration_cap must be in 1..100")
        bonus = round(self.corroboration_bonus * _PPM)
        # Index = number of distinct platforms (0 unused); saturates at cap + 1.
        setf(
            self,
            "_corroboration",
            tuple(_PPM + bonus * max(0, n - 1) for n in range(self.corroboration_cap + 2)),
        )

        if not 0.0 < self.half_saturation <= 1000.0:
            raise ValueError("half_saturation must be in (0, 1000]")
        setf(self, "_half", round(self.half_saturation * _PPM))
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


# Reason objects are built once; assess() only picks from them.
_REASON: Final[Mapping[str, Reason]] = MappingProxyType(
    {code: Reason(code, text) for code, text in REASON_TEXT.items()}
)
_CATEGORY_REASON: Final[Mapping[str, str]] = MappingProxyType(
    {c: ("other_refund_fraud" if c == "other" else c) for c in CATEGORIES}
)
# Tie-break between equal contributions; unique per code, so sorting never
# compares Reason objects. Structure first, then what happened, then modifiers.
_PRIORITY: Final[Mapping[str, int]] = MappingProxyType(
    {
        code: i
        for i, code in enumerate(
            (
                "corroborated_by_several_platforms",
                "repeated_reports_one_platform",
                *(_CATEGORY_REASON[c] for c in CATEGORIES),
                "single_confirmed_case",
                "recent_confirmed_case",
                "high_refund_amount",
            )
        )
    }
)
_R_CORROBORATED: Final = _REASON["corroborated_by_several_platforms"]
_R_REPEATED: Final = _REASON["repeated_reports_one_platform"]
_R_SINGLE: Final = _REASON["single_confirmed_case"]
_R_RECENT: Final = _REASON["recent_confirmed_case"]
_R_HIGH: Final = _REASON["high_refund_amount"]
_R_APPEAL: Final = _REASON["record_under_appeal"]
_R_STATEMENT: Final = _REASON["buyer_statement_attached"]
_P_CORROBORATED: Final = _PRIORITY["corroborated_by_several_platforms"]
_P_REPEATED: Final = _PRIORITY["repeated_reports_one_platform"]
_P_SINGLE: Final = _PRIORITY["single_confirmed_case"]
_P_RECENT: Final = _PRIORITY["recent_confirmed_case"]
_P_HIGH: Final = _PRIORITY["high_refund_amount"]

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
        w = sev_amt * dec // _PPM2
        entries.append((r.member_id, w))
        category_weight[category] = category_weight.get(category, 0) + w
        if days < RECENT_WINDOW_DAYS:
            recent = True
            recent_gain += w - sev_amt * decay_floor // _PPM2
        if amt >= high_amount:
            high = True
            amount_gain += w - sev * lowest * dec // _PPM2
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
            p = w + p * repeat // _PPM
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
    composite = total * factor // _PPM
    score = policy.max_score * composite // (composite + policy._half)
    if score < 1:
        score = 1  # a counting report is never "nothing"

    # Reasons: (negated contribution in ppm of composite weight, tie-break, reason).
    ranked: list[tuple[int, int, Reason]] = [
        (-w, _PRIORITY[_CATEGORY_REASON[c]], _REASON[_CATEGORY_REASON[c]])
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
