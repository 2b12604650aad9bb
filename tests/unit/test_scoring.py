"""The scoring rule: one property test per promise in docs/scoring.md, a table of
reason codes, and the band cut-offs.

Properties compare whole ``Assessment`` values where the promise is equality,
and integer scores where it is an order, so the integer rounding is tested
exactly as members see it.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from refund_registry.domain.scoring import (
    BANDS,
    CATEGORIES,
    COUNTING_STATUSES,
    DEFAULT_POLICY,
    NON_COUNTING_STATUSES,
    REASON_TEXT,
    STATUSES,
    Assessment,
    Counts,
    Reason,
    ReportFacts,
    ScoringPolicy,
    assess,
    band_for_score,
)
from tests.unit import reference_scoring as ref

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SEVERITY = DEFAULT_POLICY.category_severity

members = st.sampled_from([f"member-{i}" for i in range(5)])
categories = st.sampled_from(CATEGORIES)
# USD has no tiers in the default policy: exercises the unknown-currency rule.
currencies = st.sampled_from(["CNY", "CNY", "CNY", "USD"])
amounts = st.integers(min_value=0, max_value=2_000_000)
# From 30 days in the future (clock skew between members) to 6 years back.
offsets = st.integers(min_value=-30 * 86_400, max_value=6 * 366 * 86_400)
as_ofs = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


ANY_STATUS = st.sampled_from(sorted(STATUSES))


@st.composite
def reports(draw: st.DrawFn, statuses: st.SearchStrategy[str] = ANY_STATUS) -> ReportFacts:
    return ReportFacts(
        report_id=str(draw(st.integers(0, 10**9))),
        member_id=draw(members),
        category=draw(categories),
        amount_minor=draw(amounts),
        currency=draw(currencies),
        confirmed_at=AS_OF - timedelta(seconds=draw(offsets)),
        status=draw(statuses),
    )


any_report = reports()
counting_report = reports(st.sampled_from(sorted(COUNTING_STATUSES)))
active_report = reports(st.just("active"))
dead_report = reports(st.sampled_from(sorted(NON_COUNTING_STATUSES)))
report_lists = st.lists(any_report, max_size=12)


def score(facts: list[ReportFacts], as_of: datetime = AS_OF) -> int:
    return assess(facts, as_of).score


# --- one property per promise ------------------------------------------------


@given(report_lists, as_ofs, st.none() | st.text(max_size=20))
def test_bounded_and_well_formed(
    facts: list[ReportFacts], as_of: datetime, stmt: str | None
) -> None:
    a = assess(facts, as_of, statement=stmt)
    counting = [f for f in facts if f.status in COUNTING_STATUSES]
    assert 0 <= a.score < DEFAULT_POLICY.max_score  # the curve never reaches the top
    assert a.band in BANDS
    assert (a.band == "none") == (not counting)
    if counting:
        assert a.score >= 1
        assert a.band == band_for_score(a.score)
    else:
        assert a == Assessment(0, "none", (), Counts(0, 0, 0, None))
    assert len(a.reasons) <= DEFAULT_POLICY.max_reasons
    assert len({r.code for r in a.reasons}) == len(a.reasons)
    assert all(REASON_TEXT[r.code] == r.text for r in a.reasons)
    assert a.counts.active_reports == sum(f.status == "active" for f in facts)
    assert a.counts.disputed == sum(f.status == "disputed" for f in facts)
    assert a.counts.platforms == len({f.member_id for f in counting})
    if counting:
        assert a.counts.latest_confirmed_at == min(max(f.confirmed_at for f in counting), as_of)


@given(report_lists, st.none() | st.text(max_size=20), st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_order(
    facts: list[ReportFacts], stmt: str | None, rnd: random.Random
) -> None:
    first = assess(facts, AS_OF, statement=stmt)
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    assert assess(list(facts), AS_OF, statement=stmt) == first
    assert assess(shuffled, AS_OF, statement=stmt) == first
    assert assess(tuple(facts), AS_OF, statement=stmt) == first


@given(report_lists, counting_report)
def test_adding_a_counting_report_never_lowers_the_score(
    base: list[ReportFacts], extra: ReportFacts
) -> None:
    assert score([*base, extra]) >= score(base)


@given(
    report_lists,
    counting_report,
    st.integers(0, 400 * 86_400),
    st.integers(0, 500_000),
    categories,
    st.booleans(),
)
def test_newer_larger_or_more_severe_weighs_at_least_as_much(
    base: list[ReportFacts],
    worse: ReportFacts,
    newer_by: int,
    larger_by: int,
    other_category: str,
    same_platform_as_base: bool,
) -> None:
    if same_platform_as_base and base:
        worse = replace(worse, member_id=base[0].member_id)
    # Improve every dimension at once (each alone is a special case: 0 or same).
    category = (
        other_category if SEVERITY[other_category] >= SEVERITY[worse.category] else worse.category
    )
    better = replace(
        worse,
        confirmed_at=worse.confirmed_at + timedelta(seconds=newer_by),
        amount_minor=worse.amount_minor + larger_by,
        category=category,
    )
    assert score([*base, better]) >= score([*base, worse])


@given(st.lists(counting_report, min_size=2, max_size=50))
@example([ReportFacts("x", "m", "ai_forged_evidence", 10**6, "CNY", AS_OF, "active")] * 50)
@example([ReportFacts("x", "m", "other", 0, "CNY", AS_OF - 900 * DAY, "disputed")] * 2)
@example(
    [ReportFacts("0", "m", "ai_forged_evidence", 10**6, "CNY", AS_OF, "active")]
    + [
        ReportFacts(str(i), "m", "other", 0, "USD", AS_OF - 900 * DAY, "disputed")
        for i in range(49)
    ]
)
@settings(max_examples=150)
def test_k_platforms_score_strictly_higher_than_one_platform(templates: list[ReportFacts]) -> None:
    spread = [replace(f, member_id=f"platform-{i}") for i, f in enumerate(templates)]
    one = [replace(f, member_id="platform-0") for f in templates]
    assert score(spread) > score(one)
    assert assess(spread, AS_OF).counts.platforms == len(templates)


@given(report_lists, active_report)
def test_a_disputed_report_counts_less_than_undisputed_but_more_than_nothing(
    base: list[ReportFacts], active: ReportFacts
) -> None:
    disputed = replace(active, status="disputed")
    # Alone, strictly between: the default policy leaves a margin of 30+ points.
    assert 0 < score([disputed]) < score([active])
    assert assess([disputed], AS_OF).band != "none"
    # With other reports, never out of order (strictness may be absorbed by
    # the integer rounding once the score is high; see docs/scoring.md).
    assert score(base) <= score([*base, disputed]) <= score([*base, active])


@given(report_lists, st.lists(dead_report, max_size=6), st.none() | st.just("I disagree."))
def test_retracted_overturned_and_expired_reports_count_zero(
    base: list[ReportFacts], dead: list[ReportFacts], stmt: str | None
) -> None:
    # The whole answer is unchanged, not only the score: reasons, counts, dates.
    mixed = [*dead[:3], *base, *dead[3:]]
    assert assess(mixed, AS_OF, statement=stmt) == assess(base, AS_OF, statement=stmt)


@given(report_lists, as_ofs, st.integers(0, 3 * 366 * 86_400))
def test_a_later_as_of_never_raises_the_score(
    facts: list[ReportFacts], as_of: datetime, later_by: int
) -> None:
    assert score(facts, as_of + timedelta(seconds=later_by)) <= score(facts, as_of)


@given(report_lists, counting_report, st.integers(1, 400 * 86_400))
def test_a_report_confirmed_after_as_of_counts_as_confirmed_at_as_of(
    base: list[ReportFacts], report: ReportFacts, ahead: int
) -> None:
    future = replace(report, confirmed_at=AS_OF + timedelta(seconds=ahead))
    now = replace(report, confirmed_at=AS_OF)
    assert assess([*base, future], AS_OF) == assess([*base, now], AS_OF)


# --- reason codes --------------------------------------------------------------


def r(
    member: str,
    category: str,
    cny: float,
    days_ago: float,
    status: str = "active",
    currency: str = "CNY",
) -> ReportFacts:
    return ReportFacts(
        report_id=f"{member}-{category}-{days_ago}",
        member_id=member,
        category=category,
        amount_minor=round(cny * 100),
        currency=currency,
        confirmed_at=AS_OF - timedelta(days=days_ago),
        status=status,
    )


REASON_CASES: list[tuple[str, list[ReportFacts], str | None, list[str]]] = [
    ("no reports", [], None, []),
    (
        "only dead reports, even with a statement",
        [r("a", "ai_forged_evidence", 900, 3, "retracted"), r("b", "other", 9, 3, "expired")],
        "It was a mistake.",
        [],
    ),
    (
        "one recent case, modest amount",
        [r("a", "ai_forged_evidence", 300, 10)],
        None,
        ["ai_forged_evidence", "single_confirmed_case", "recent_confirmed_case"],
    ),
    (
        "one old case, large amount",
        [r("a", "refund_only_abuse", 3_000, 400)],
        None,
        ["refund_only_abuse", "single_confirmed_case", "high_refund_amount"],
    ),
    (
        "two platforms: the category carries most weight, then corroboration",
        [r("a", "ai_forged_evidence", 50, 10), r("b", "ai_forged_evidence", 50, 30)],
        None,
        ["ai_forged_evidence", "corroborated_by_several_platforms", "recent_confirmed_case"],
    ),
    (
        "three platforms: corroboration outweighs everything",
        [
            r("a", "fabricated_damage_claim", 50, 200),
            r("b", "fabricated_damage_claim", 50, 220),
            r("c", "chargeback_fraud", 50, 300),
        ],
        None,
        ["corroborated_by_several_platforms", "fabricated_damage_claim", "chargeback_fraud"],
    ),
    (
        "repeats on one platform",
        [r("a", "ai_forged_evidence", 50, d) for d in (5, 15, 25)],
        None,
        ["ai_forged_evidence", "recent_confirmed_case", "repeated_reports_one_platform"],
    ),
    (
        "notices always fit, after the contributing reasons",
        [r("a", "fabricated_damage_claim", 5_000, 5, "disputed")],
        "The parcel arrived crushed; I have the courier's note.",
        [
            "fabricated_damage_claim",
            "single_confirmed_case",
            "record_under_appeal",
            "buyer_statement_attached",
        ],
    ),
    (
        "a blank statement is no statement",
        [r("a", "false_not_received_claim", 80, 500)],
        "   ",
        ["false_not_received_claim", "single_confirmed_case"],
    ),
    (
        "unknown category scores as other; unknown currency is never a high amount",
        [r("a", "brand_new_category", 10**6, 500, currency="USD")],
        None,
        ["other_refund_fraud", "single_confirmed_case"],
    ),
    (
        "a future confirmation is recent",
        [r("a", "empty_box_or_switched_return", 120, -2)],
        None,
        ["empty_box_or_switched_return", "single_confirmed_case", "recent_confirmed_case"],
    ),
    (
        "dead reports do not displace live reasons",
        [
            r("a", "ai_forged_evidence", 9_000, 1, "overturned"),
            r("b", "chargeback_fraud", 600, 100),
        ],
        None,
        ["chargeback_fraud", "single_confirmed_case", "high_refund_amount"],
    ),
]


@pytest.mark.parametrize(
    ("facts", "stmt", "codes"),
    [pytest.param(f, s, c, id=name) for name, f, s, c in REASON_CASES],
)
def test_reason_codes(facts: list[ReportFacts], stmt: str | None, codes: list[str]) -> None:
    reasons = assess(facts, AS_OF, statement=stmt).reasons
    assert [x.code for x in reasons] == codes
    assert all(isinstance(x, Reason) and x.text == REASON_TEXT[x.code] for x in reasons)


def test_every_reason_code_has_buyer_readable_text() -> None:
    for code, text in REASON_TEXT.items():
        assert code.isidentifier()
        assert code == code.lower()
        assert text[0].isupper()
        assert text.endswith(".")
        assert len(text) <= 160


# --- bands ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0, "low"),
        (1, "low"),
        (299, "low"),
        (300, "medium"),
        (599, "medium"),
        (600, "high"),
        (799, "high"),
        (800, "severe"),
        (999, "severe"),
    ],
)
def test_default_band_cut_offs(value: int, band: str) -> None:
    assert band_for_score(value) == band


def test_custom_band_cut_offs() -> None:
    policy = ScoringPolicy(band_medium=100, band_high=200, band_severe=300)
    assert [band_for_score(s, policy) for s in (99, 100, 199, 200, 299, 300)] == [
        "low",
        "medium",
        "medium",
        "high",
        "high",
        "severe",
    ]


@pytest.mark.parametrize(
    ("facts", "expected_score", "band"),
    [
        ([], 0, "none"),
        ([r("a", "other", 10, 900, "disputed")], 33, "low"),
        ([r("a", "ai_forged_evidence", 2_000, 0)], 500, "medium"),
        ([r("a", "ai_forged_evidence", 2_000, d) for d in (0, 0)], 600, "high"),
        ([r(m, "ai_forged_evidence", 2_000, 0) for m in "ab"], 714, "high"),
        ([r(m, "ai_forged_evidence", 2_000, 0) for m in "abc"], 818, "severe"),
        ([r("a", "ai_forged_evidence", 2_000, 0)] * 40, 666, "high"),
    ],
    ids=[
        "nothing",
        "weakest possible case",
        "one maximal case",
        "two maximal cases, one platform",
        "two maximal cases, two platforms",
        "three platforms",
        "one platform alone never reaches severe",
    ],
)
def test_band_examples(facts: list[ReportFacts], expected_score: int, band: str) -> None:
    a = assess(facts, AS_OF)
    assert (a.score, a.band) == (expected_score, band)


# --- preconditions and policy validation ------------------------------------------


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown status 'suspended'"):
        assess([r("a", "other", 1, 1, "suspended")], AS_OF)


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess([], datetime(2025, 1, 1))


def test_as_of_in_another_zone_is_the_same_instant() -> None:
    facts = [r("a", "ai_forged_evidence", 100, 89.9), r("b", "other", 10, 3, "disputed")]
    shanghai = AS_OF.astimezone(timezone(timedelta(hours=8)))
    assert assess(facts, shanghai) == assess(facts, AS_OF)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dispute_factor": 1.0}, "dispute_factor"),
        ({"dispute_factor": 0.0}, "dispute_factor"),
        ({"repeat_factor": 1.0}, "repeat_factor"),
        ({"category_severity": {"ai_forged_evidence": 1.0}}, "'other'"),
        ({"category_severity": {"other": 1.5}}, "category_severity"),
        ({"category_severity": {"other": 0.5, "new_kind": 0.7}}, "unknown categories"),
        ({"amount_tiers": {"CNY": ((1, 0.5),)}}, "start at 0"),
        ({"amount_tiers": {"CNY": ((0, 0.9), (100, 0.5))}}, "must not decrease"),
        ({"amount_tiers": {"CNY": ((0, 0.5), (0, 0.9))}}, "must increase"),
        ({"recency_half_life_days": 0}, "recency_half_life_days"),
        ({"recency_floor": 0.0}, "recency_floor"),
        ({"corroboration_bonus": 0.0}, "corroboration_bonus"),
        ({"band_medium": 700}, "band cut-offs"),
        ({"max_reasons": 2}, "max_reasons"),
    ],
)
def test_bad_policy_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_immutable_and_decay_table_is_monotone() -> None:
    decay = DEFAULT_POLICY._decay
    assert decay[0] == 1_000_000
    assert decay[180] == 500_000  # the half-life
    assert decay[-1] == 250_000  # the floor
    assert all(a >= b for a, b in pairwise(decay))
    with pytest.raises(TypeError):
        DEFAULT_POLICY.category_severity["other"] = 1.0  # type: ignore[index]
    assert ScoringPolicy() == DEFAULT_POLICY


# --- cross-check against a naive reference ---------------------------------------
#
# tests/unit/reference_scoring.py computes the score from docs/scoring.md alone,
# with exact fractions and no precomputed tables. Here the real scorer must
# agree with it on the whole answer, over generated records, as-of times and
# policies.

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
PPM = 1_000_000


def as_reference(facts: ReportFacts) -> ref.Report:
    return ref.Report(
        member=facts.member_id,
        category=facts.category,
        amount_minor=facts.amount_minor,
        currency=facts.currency,
        confirmed_at=facts.confirmed_at,
        status=facts.status,
    )


def reference_answer(
    facts: list[ReportFacts],
    as_of: datetime,
    stmt: str | None = None,
    policy: ref.Policy | None = None,
) -> Assessment:
    a = ref.assess([as_reference(f) for f in facts], as_of, stmt, policy)
    return Assessment(
        a.score,
        a.band,  # type: ignore[arg-type]
        tuple(Reason(code, text) for code, text in a.reasons),
        Counts(a.active, a.platforms, a.disputed, a.latest),
    )


@st.composite
def varied_reports(draw: st.DrawFn) -> ReportFacts:
    """Reports across zones, currencies and categories, including ones no policy knows."""
    return ReportFacts(
        report_id=str(draw(st.integers(0, 10**9))),
        member_id=draw(members),
        category=draw(categories | st.just("brand_new_category")),
        amount_minor=draw(st.sampled_from([0, 9_999, 10_000, 50_000, 200_000]) | amounts),
        currency=draw(st.sampled_from(["CNY", "CNY", "USD", "EUR"])),
        confirmed_at=(AS_OF - timedelta(seconds=draw(offsets))).astimezone(draw(ZONES)),
        status=draw(ANY_STATUS),
    )


# A factor in ppm: round values (which make equal contributions likely) or any.
factor_ppm = st.integers(1, 100).map(lambda k: k * 10_000) | st.integers(1, PPM)


def both_policies(
    severity: dict[str, int],
    tiers: dict[str, list[tuple[int, int]]] | None = None,
    ppms: dict[str, int] | None = None,
    ints: dict[str, int] | None = None,
) -> tuple[ScoringPolicy, ref.Policy]:
    """The same policy twice, from factors in ppm: for the scorer and for the reference."""
    tiers = tiers if tiers is not None else {"CNY": [(0, 550_000)]}
    ppms, ints = ppms or {}, ints or {}
    real = ScoringPolicy(
        category_severity={c: v / PPM for c, v in severity.items()},
        amount_tiers={c: tuple((b, f / PPM) for b, f in t) for c, t in tiers.items()},
        **{k: v / PPM for k, v in ppms.items()},  # type: ignore[arg-type]
        **ints,
    )
    naive = ref.Policy(
        severity={c: Fraction(v, PPM) for c, v in severity.items()},
        amount_tiers={c: [(b, Fraction(f, PPM)) for b, f in t] for c, t in tiers.items()},
        **{k: Fraction(v, PPM) for k, v in ppms.items()},  # type: ignore[arg-type]
        **ints,  # type: ignore[arg-type]
    )
    return real, naive


@st.composite
def policies(draw: st.DrawFn) -> tuple[ScoringPolicy, ref.Policy]:
    known = draw(st.lists(st.sampled_from(CATEGORIES[:-1]), unique=True))
    severity = {c: draw(st.integers(10_000, PPM)) for c in [*known, "other"]}
    tiers: dict[str, list[tuple[int, int]]] = {}
    for currency in draw(st.lists(st.sampled_from(["CNY", "EUR"]), unique=True)):
        bounds = sorted(draw(st.sets(st.integers(1, 300_000), max_size=3)))
        factors = sorted(draw(st.lists(factor_ppm, min_size=len(bounds) + 1, max_size=4)))
        tiers[currency] = list(zip([0, *bounds], factors, strict=False))
    # A fine scale with a small half-saturation shows every ppm of the composite.
    max_score = draw(st.sampled_from([10, 1000, 1000, 1_000_000]))
    medium, high, severe = sorted(draw(st.sets(st.integers(1, max_score - 1), min_size=3)))[:3]
    ints = {
        "recency_half_life_days": draw(st.integers(1, 200)),
        "corroboration_cap": draw(st.integers(1, 8)),
        "band_medium": medium,
        "band_high": high,
        "band_severe": severe,
        "max_score": max_score,
        "max_reasons": draw(st.integers(3, 6)),
    }
    ppms = {
        "unknown_currency_factor": draw(factor_ppm),
        "high_amount_factor": draw(factor_ppm),
        "recency_floor": draw(st.integers(100_000, PPM)),
        "repeat_factor": draw(st.integers(0, PPM - 1)),
        "corroboration_bonus": draw(st.integers(1, 10 * PPM)),
        "dispute_factor": draw(st.integers(10_000, PPM - 1)),
        "half_saturation": draw(st.integers(1, 50_000) | st.integers(1, 10 * PPM)),
    }
    return both_policies(severity, tiers, ppms, ints)


FINE_SCALE = {"max_score": 1_000_000, "band_medium": 1, "band_high": 2, "band_severe": 3}


@given(st.lists(varied_reports(), max_size=10), as_ofs, ZONES, st.none() | st.text(max_size=5))
@settings(max_examples=120)
def test_default_policy_agrees_with_the_naive_reference(
    facts: list[ReportFacts], as_of: datetime, zone: timezone, stmt: str | None
) -> None:
    # The reference holds its own copy of the page's default weights.
    as_of = as_of.astimezone(zone)
    assert assess(facts, as_of, statement=stmt) == reference_answer(facts, as_of, stmt)


@given(policies(), st.lists(varied_reports(), max_size=8), as_ofs, st.none() | st.just("Hi."))
# The disputed severity is rounded down to a whole ppm before it is multiplied:
# invisible on the default scale, one to four points on this one.
@example(
    both_policies(
        {"other": 150_891},
        ppms={"dispute_factor": 606_853, "half_saturation": 4_136},
        ints=FINE_SCALE,
    ),
    [ReportFacts("1", "m", "other", 0, "CNY", AS_OF - 130 * DAY, "disputed")],
    AS_OF,
    None,
)
# Equal contributions follow the reason-code table, whatever the severities:
# refund_only_abuse comes before the more severe chargeback_fraud.
@example(
    both_policies(
        {"chargeback_fraud": 800_000, "refund_only_abuse": 500_000, "other": 500_000},
        {"CNY": [(0, 500_000), (10_000, 800_000)]},
    ),
    [
        ReportFacts("1", "a", "chargeback_fraud", 0, "CNY", AS_OF - 400 * DAY, "active"),
        ReportFacts("2", "b", "refund_only_abuse", 10_000, "CNY", AS_OF - 400 * DAY, "active"),
    ],
    AS_OF,
    None,
)
@settings(max_examples=60, deadline=None)
def test_any_policy_agrees_with_the_naive_reference(
    both: tuple[ScoringPolicy, ref.Policy],
    facts: list[ReportFacts],
    as_of: datetime,
    stmt: str | None,
) -> None:
    real, naive = both
    assert assess(facts, as_of, statement=stmt, policy=real) == reference_answer(
        facts, as_of, stmt, naive
    )


def test_reference_reproduces_the_worked_examples() -> None:
    # The reference is only a judge if it reproduces the page's own arithmetic.
    as_of = datetime(2025, 6, 1, tzinfo=UTC)

    def case(
        member: str, category: str, cny: int, days_ago: int, status: str = "active"
    ) -> ref.Report:
        return ref.Report(member, category, cny * 100, "CNY", as_of - timedelta(days_ago), status)

    ai = case("shop-a", "ai_forged_evidence", 300, 10)
    damage = case("shop-a", "fabricated_damage_claim", 2_400, 120)
    abuse = case("shop-a", "refund_only_abuse", 80, 400)
    single = ref.assess([ai], as_of)
    assert (single.score, single.band) == (402, "medium")
    assert [c for c, _ in single.reasons] == [
        "ai_forged_evidence",
        "single_confirmed_case",
        "recent_confirmed_case",
    ]
    one_platform = ref.assess([ai, damage, abuse], as_of)
    assert (one_platform.score, one_platform.band) == (494, "medium")
    assert [c for c, _ in one_platform.reasons] == [
        "ai_forged_evidence",
        "fabricated_damage_claim",
        "recent_confirmed_case",
        "repeated_reports_one_platform",
    ]
    three = ref.assess(
        [ai, replace(damage, member="shop-b"), replace(abuse, member="shop-c", status="disputed")],
        as_of,
        "The vase arrived cracked; see my courier receipt.",
    )
    assert (three.score, three.band) == (658, "high")
    assert [c for c, _ in three.reasons] == [
        "corroborated_by_several_platforms",
        "ai_forged_evidence",
        "record_under_appeal",
        "buyer_statement_attached",
    ]
    assert (three.active, three.platforms, three.disputed) == (2, 3, 1)
    # The recency column of the page's table.
    floor = Fraction(1, 4)
    assert [ref.recency(d, 180, floor) * PPM for d in (10, 120, 400)] == [
        962_224,
        629_961,
        250_000,
    ]


def test_reference_reason_texts_are_the_pages() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "scoring.md").read_text("utf-8")
    section = page.split("## Reason codes", 1)[1].split("**Which reasons", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (.+) \|$", section, flags=re.MULTILINE)
    assert dict(rows) == ref.TEXT
    assert dict(rows) == dict(REASON_TEXT)
