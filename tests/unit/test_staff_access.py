"""Staff sign-in rules: link lifetime and single use, session limits, sections by role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import staff_access as rules
from refund_registry.domain.staff_access import Section, StaffSessionTimes

START = datetime(2026, 3, 1, 9, tzinfo=UTC)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2))


@given(offsets)
def test_a_link_opens_a_session_only_within_ten_minutes(after: timedelta) -> None:
    assert rules.link_usable(START, None, START + after) == (after < rules.LINK_LIFETIME)


@given(offsets, offsets)
def test_a_used_link_opens_nothing(used_after: timedelta, after: timedelta) -> None:
    assert not rules.link_usable(START, START + used_after, START + after)


def test_a_link_is_not_usable_before_it_was_issued() -> None:
    assert not rules.link_usable(START, None, START - timedelta(seconds=1))


@given(st.lists(offsets, max_size=30), offsets)
def test_a_session_never_outlives_its_absolute_limit(
    requests: list[timedelta], probe: timedelta
) -> None:
    times = StaffSessionTimes(START, START)
    for at in sorted(requests):
        if times.is_live(START + at):
            times = times.touched(START + at)
    assert times.expires_at() <= START + rules.SESSION_ABSOLUTE
    if probe >= rules.SESSION_ABSOLUTE:
        assert not times.is_live(START + probe)


@given(offsets, offsets)
def test_a_session_ends_after_being_idle(last: timedelta, idle: timedelta) -> None:
    times = StaffSessionTimes(START, START + last)
    now = START + last + idle
    if idle >= rules.SESSION_IDLE:
        assert not times.is_live(now)
    elif last + idle < rules.SESSION_ABSOLUTE:
        assert times.is_live(now)


@given(offsets, offsets)
def test_touching_never_moves_the_last_request_backwards(a: timedelta, b: timedelta) -> None:
    times = StaffSessionTimes(START, START + a).touched(START + b)
    assert times.last_seen_at == START + max(a, b)
    assert times.created_at == START


@given(st.text(max_size=60), st.text(max_size=60))
def test_digests_are_domain_separated_and_distinct(a: str, b: str) -> None:
    assert rules.link_digest(a) != rules.session_digest(a)
    assert len(rules.session_digest(a)) == 32
    if a != b:
        assert rules.session_digest(a) != rules.session_digest(b)


@given(
    st.sampled_from(["member", "adjudicator", "auditor", "admin", "portal", "x"]),
    st.sampled_from(["active", "suspended", "revoked"]),
)
def test_only_active_staff_roles_may_sign_in(role: str, status: str) -> None:
    allowed = rules.may_sign_in(role, status)
    assert allowed == (status == "active" and role in ("member", "adjudicator", "auditor"))
    assert bool(rules.sections_for(role)) == (role in rules.STAFF_ROLES)


def test_each_role_sees_its_own_section_only() -> None:
    assert rules.sections_for("adjudicator") == (Section.QUEUE,)
    assert rules.sections_for("member") == (Section.INBOX,)
    assert rules.sections_for("auditor") == (Section.AUDIT,)
    assert rules.sections_for("admin") == ()
