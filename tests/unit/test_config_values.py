"""Environment values: a bounded number is read as such, or refused with a line that says why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.config_values import integer, number


@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(-2000, 2000))
def test_an_integer_is_read_within_its_bounds_and_refused_outside(
    low: int, high: int, value: int
) -> None:
    parse = integer(low, high)
    if low <= value <= high:
        assert parse(str(value)) == value
    else:
        with pytest.raises(ValueError, match=f"must be between {low} and {high}"):
            parse(str(value))


@given(st.floats(0, 100), st.floats(0, 100), st.floats(-10, 200))
def test_a_number_is_read_within_its_bounds_and_refused_outside(
    low: float, high: float, value: float
) -> None:
    parse = number(low, high)
    if low <= value <= high:
        assert parse(repr(value)) == value
    else:
        with pytest.raises(ValueError, match="must be between"):
            parse(repr(value))


@pytest.mark.parametrize(
    ("parse", "raw", "message"),
    [
        (integer(1, 10), "1.5", "must be an integer"),
        (integer(1, 10), "ten", "must be an integer"),
        (number(1.0, 10.0), "ten", "must be a number"),
    ],
)
def test_text_that_is_no_number_is_refused_as_such(parse: object, raw: str, message: str) -> None:
    assert callable(parse)
    with pytest.raises(ValueError, match=message):
        parse(raw)
