"""What console pages say: the due-day filter, days left, states; pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.web.console import views
from refund_registry.web.i18n import CHINA_TIME, Language

ENGLISH = Language("en")
CHINESE = Language("zh_CN")


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2999, 12, 30)))
def test_due_by_a_day_keeps_exactly_the_deadlines_on_or_before_it(day: date) -> None:
    before = views.due_before(day.isoformat())
    assert before is not None
    last_moment = datetime.combine(day, datetime.max.time(), tzinfo=CHINA_TIME)
    assert last_moment < before
    assert before - last_moment <= timedelta(microseconds=1)
    assert before.astimezone(CHINA_TIME).date() == day + timedelta(days=1)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01", "2026/03/01", "01-03-2026"])
def test_a_malformed_day_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        views.due_before(text)


def test_no_day_is_no_filter() -> None:
    assert views.due_before(None) is None
    assert views.due_before("") is None


@given(st.integers(min_value=-400, max_value=400))
def test_days_left_words(days: int) -> None:
    said = views.days_left_words(ENGLISH, days)
    if days <= 0:
        assert said == "Deadline passed"
    else:
        assert said.startswith(f"{days} day")
    assert views.days_left_words(CHINESE, days)


def test_every_state_has_staff_words_in_both_languages() -> None:
    for state in views.QUEUE_FILTERS:
        assert views.state_words(ENGLISH, state) != state
        assert views.state_words(CHINESE, state) != views.state_words(ENGLISH, state)


def test_the_utc_clock_does_not_move_the_china_day() -> None:
    # 23:30 UTC on 1 March is already 2 March in China: due by 2 March keeps it.
    deadline = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    before = views.due_before("2026-03-02")
    assert before is not None
    assert deadline < before
    first = views.due_before("2026-03-01")
    assert first is not None
    assert deadline >= first
