"""The auditor's daily summary rules: which member days are flagged, and the document."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain.audit_summary import DEFAULT_SUMMARY_POLICY as POLICY
from refund_registry.domain.audit_summary import MemberDay, assess, summarize

purposes = st.dictionaries(
    st.sampled_from([*sorted(POLICY.expected_purposes), "fraud_investigation", "unstated"]),
    st.integers(min_value=1, max_value=500),
    min_size=1,
)


@st.composite
def member_days(draw: st.DrawFn) -> MemberDay:
    distinct = draw(st.integers(min_value=0, max_value=400))
    return MemberDay(
        member=draw(st.sampled_from(["mem_a", "mem_b", "mem_c"])),
        purposes=draw(purposes),
        distinct_subjects=distinct,
        one_off_subjects=draw(st.integers(min_value=0, max_value=distinct)),
        trailing_queries=draw(st.integers(min_value=0, max_value=20_000)),
    )


def _codes(day: MemberDay) -> set[str]:
    return {a["code"] for a in assess(day, POLICY)}


@given(member_days())
def test_each_flag_follows_its_rule(day: MemberDay) -> None:
    codes = _codes(day)
    assert ("unexpected_purpose" in codes) == bool(set(day.purposes) - POLICY.expected_purposes)
    if day.queries < POLICY.burst_min_queries:
        assert "burst" not in codes
    if day.distinct_subjects <= POLICY.sweep_min_subjects:
        assert "subject_sweep" not in codes


@given(member_days(), st.integers(min_value=1, max_value=10_000))
def test_a_longer_history_never_raises_a_burst(day: MemberDay, more: int) -> None:
    calmer = MemberDay(
        day.member, day.purposes, day.distinct_subjects, day.one_off_subjects,
        day.trailing_queries + more,
    )  # fmt: skip
    if "burst" in _codes(calmer):
        assert "burst" in _codes(day)


@given(st.lists(member_days(), max_size=5))
def test_the_summary_lists_busiest_members_first_with_shares_of_one(
    days: list[MemberDay],
) -> None:
    doc = summarize(date(2026, 11, 25), days, POLICY)
    counts = [m["queries"] for m in doc["members"]]
    assert counts == sorted(counts, reverse=True)
    for m in doc["members"]:
        assert abs(sum(m["purposes"].values()) - 1) < 0.001 * len(m["purposes"])
    assert doc["day"] == "2026-11-25"
