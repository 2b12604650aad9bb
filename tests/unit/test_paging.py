"""Listing cursors and page bounds (``domain.paging``), and days left before a deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import paging
from refund_registry.domain.appeals import Appeal, AppealState, Grounds, days_left, due_deadline
from refund_registry.domain.wire import b64url
from refund_registry.errors import InvalidCursor, InvalidInput

DAY = timedelta(days=1)
aware = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
scopes = st.builds(
    paging.scope,
    st.sampled_from(["appeals", "reports"]),
    st.text(max_size=20),
    st.none() | st.text(max_size=20),
)


# --------------------------------------------------------------------------- days left


@given(aware, aware)
def test_days_left_brackets_the_time_to_the_deadline(due: datetime, now: datetime) -> None:
    d = days_left(due, now)
    assert d is not None
    assert (d - 1) * DAY < due - now <= d * DAY


@given(aware, aware, offsets)
def test_days_left_is_positive_exactly_while_the_deadline_is_ahead(
    due: datetime, now: datetime, zone: timezone
) -> None:
    appeal = Appeal(AppealState.AWAITING_ADJUDICATION, Grounds.NOT_ME, "s", due - 20 * DAY,
                    due - 10 * DAY, due)  # fmt: skip
    d = days_left(due.astimezone(zone), now)
    assert d is not None
    assert (d > 0) == (not due_deadline(appeal, now))
    assert d == days_left(due, now.astimezone(zone))  # the zone changes nothing


def test_days_left_by_example() -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    cases = {timedelta(0): 0, timedelta(hours=1): 1, DAY: 1, DAY + timedelta(microseconds=1): 2,
             -timedelta(hours=1): 0, -DAY: -1, -2 * DAY - timedelta(hours=1): -2}  # fmt: skip
    for delta, expected in cases.items():
        assert days_left(now + delta, now) == expected, delta
    assert days_left(None, now) is None
    with pytest.raises(ValueError, match="aware"):
        days_left(datetime(2026, 1, 1), now)


# --------------------------------------------------------------------------- cursors


@given(scopes, st.booleans(), aware, ids)
def test_appeal_cursors_round_trip(bound: str, closed: bool, at: datetime, appeal_id: str) -> None:
    cursor = paging.appeal_cursor(bound, closed, at, appeal_id)
    assert paging.read_appeal_cursor(bound, cursor) == (closed, at, appeal_id)
    assert cursor.isascii()
    assert "=" not in cursor  # URL-safe as it is


@given(scopes, aware, ids)
def test_report_cursors_round_trip(bound: str, at: datetime, report_id: str) -> None:
    cursor = paging.report_cursor(bound, at, report_id)
    assert paging.read_report_cursor(bound, cursor) == (at, report_id)


@given(scopes, scopes, aware, ids)
def test_a_cursor_is_refused_outside_its_listing(
    bound: str, other: str, at: datetime, report_id: str
) -> None:
    cursor = paging.report_cursor(bound, at, report_id)
    if other != bound:
        with pytest.raises(InvalidCursor):
            paging.read_report_cursor(other, cursor)
    with pytest.raises(InvalidCursor):  # a report cursor is not an appeal cursor
        paging.read_appeal_cursor(bound, cursor)


@given(scopes, st.text(max_size=600))
def test_anything_else_is_a_400_never_a_crash(bound: str, text: str) -> None:
    refused: InvalidCursor | None = None
    try:
        paging.read_appeal_cursor(bound, text)
    except InvalidCursor as error:
        refused = error
    if refused is not None:
        assert refused.status == 400
        assert refused.code == "page.cursor"


@given(scopes, st.lists(st.integers() | st.text() | st.booleans() | st.none(), max_size=6))
def test_forged_arrays_are_refused_or_read_within_range(bound: str, values: list[object]) -> None:
    forged = b64url(msgspec.json.encode([paging.CURSOR_VERSION, bound, *values]))
    try:
        closed, at, appeal_id = paging.read_appeal_cursor(bound, forged)
    except InvalidCursor:
        return
    assert isinstance(closed, bool)
    assert at.tzinfo is not None
    assert appeal_id


def test_scopes_differ_by_viewer_and_filters() -> None:
    base = paging.scope("appeals", "prn_a", None, None)
    assert base == paging.scope("appeals", "prn_a", None, None)
    assert len({base, paging.scope("appeals", "prn_b", None, None),
                paging.scope("appeals", "prn_a", "upheld", None),
                paging.scope("appeals", "prn_a", None, "upheld"),
                paging.scope("reports", "prn_a", None, None)}) == 5  # fmt: skip


# --------------------------------------------------------------------------- bounds


@given(st.integers(-(10**6), 10**6))
def test_limits(limit: int) -> None:
    if 1 <= limit <= paging.MAX_PAGE:
        assert paging.check_limit(limit) == limit
    else:
        with pytest.raises(InvalidInput) as refused:
            paging.check_limit(limit)
        assert refused.value.code == "page.limit"


def test_choices_and_times() -> None:
    paging.check_choice("state", None, frozenset({"a"}), code="x.y")
    paging.check_choice("state", "a", frozenset({"a"}), code="x.y")
    with pytest.raises(InvalidInput, match="state: must be one of a, b"):
        paging.check_choice("state", "c", frozenset({"a", "b"}), code="x.y")
    paging.check_time("due_before", datetime(2026, 1, 1, tzinfo=UTC), code="x.t")
    with pytest.raises(InvalidInput) as refused:
        paging.check_time("due_before", datetime(2026, 1, 1), code="x.t")
    assert refused.value.code == "x.t"
