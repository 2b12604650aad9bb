"""Query ids of one batch: drawn at once, each of the documented form, none repeated."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.services.risk import new_query_ids

FORM = re.compile(r"q_[0-9a-f]{20}")


@given(st.integers(min_value=0, max_value=1_000))
def test_one_draw_gives_count_distinct_ids_of_the_form(count: int) -> None:
    ids = new_query_ids(count)
    assert len(ids) == count
    assert all(FORM.fullmatch(i) for i in ids)
    assert len(set(ids)) == count
