"""The pure rules of enumeration budgets: one identifier per kind, units, quotas, ceilings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import inquiry
from refund_registry.domain.identity import KINDS
from refund_registry.domain.quotas import (
    EVALUATION_CEILING,
    MOBILE_SPACE,
    check_org_id,
    check_quota,
    days_to_enumerate,
)
from refund_registry.errors import InvalidInput

kinds_lists = st.lists(st.sampled_from(sorted(KINDS)), max_size=12)


@given(kinds_lists)
def test_repeated_kinds_names_exactly_the_later_repeats(kinds: list[str]) -> None:
    repeated = inquiry.repeated_kinds(kinds)
    assert (repeated == []) == (len(set(kinds)) == len(kinds))
    for index, kind in enumerate(kinds):
        assert (index in repeated) == (kind in kinds[:index])
    # Dropping the repeats leaves one identifier per kind, in the order sent.
    kept = [k for i, k in enumerate(kinds) if i not in repeated]
    assert kept == list(dict.fromkeys(kinds))


@given(kinds_lists.filter(lambda ks: len(ks) >= 1))
def test_a_query_with_a_repeated_kind_is_refused(kinds: list[str]) -> None:
    pseudonym = "A" * 86
    item = inquiry.QueryItem(
        tuple((k, pseudonym[:-3] + f"{i:03d}") for i, k in enumerate(kinds)), "refund_decision"
    )
    codes = [v.code for v in inquiry.validate(item)]
    assert ("query.identifier_kind_repeated" in codes) == (len(set(kinds)) < len(kinds))


@given(st.lists(st.integers(min_value=1, max_value=10), max_size=50))
def test_units_are_one_per_identifier(sizes: list[int]) -> None:
    items = [inquiry.QueryItem(tuple(("phone", "p") for _ in range(n)), "x") for n in sizes]
    assert inquiry.units(items) == sum(sizes)


@given(
    st.integers(min_value=-10, max_value=3 * EVALUATION_CEILING) | st.none(),
    st.booleans(),
)
def test_a_quota_above_the_ceiling_needs_the_override(value: int | None, above: bool) -> None:
    allowed = value is None or (value >= 1 and (value <= EVALUATION_CEILING or above))
    if allowed:
        check_quota(value, EVALUATION_CEILING, above_ceiling=above, name="q")
        return
    expected = "org.quota" if value is not None and value < 1 else "org.quota_above_ceiling"
    with pytest.raises(InvalidInput) as refused:
        check_quota(value, EVALUATION_CEILING, above_ceiling=above, name="q")
    assert refused.value.code == expected


@given(st.integers(min_value=1, max_value=10**10), st.integers(min_value=1, max_value=10**8))
def test_days_to_enumerate_is_the_ceiling_of_the_quotient(space: int, per_day: int) -> None:
    days = days_to_enumerate(space, per_day)
    assert (days - 1) * per_day < space <= days * per_day


def test_the_documented_days_for_the_mobile_space() -> None:
    assert days_to_enumerate(MOBILE_SPACE, 1_000_000) == 1700
    assert days_to_enumerate(MOBILE_SPACE, EVALUATION_CEILING) == 850


@given(st.from_regex(r"[a-z0-9][a-z0-9_-]{1,63}", fullmatch=True))
def test_well_formed_organisation_ids_pass(org: str) -> None:
    assert check_org_id(org) == org


@pytest.mark.parametrize("org", ["", "a", "Acme", "-acme", "acme shop", "x" * 65, "ácme"])
def test_malformed_organisation_ids_are_refused(org: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_org_id(org)
    assert refused.value.code == "org.id"
