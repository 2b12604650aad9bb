"""Rules of buyer sign-in: one-time codes, session lifetimes, hand-off limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import buyer_access as ba

KEY = b"k" * 32
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
subject_keys = st.binary(min_size=32, max_size=32)
codes = st.text(alphabet="0123456789", min_size=6, max_size=6)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3))


def issue(subject_key: bytes, code: str, tries: int = 0) -> ba.IssuedCode:
    return ba.IssuedCode(subject_key, ba.code_digest(KEY, subject_key, code), T0, tries)


@given(st.binary(min_size=8, max_size=8))
def test_a_code_is_six_ascii_digits(random: bytes) -> None:
    code = ba.new_code(random)
    assert ba.is_well_formed_code(code)
    assert int(code) == int.from_bytes(random, "big") % 1_000_000


@pytest.mark.parametrize("size", [0, 7, 9])
def test_a_code_needs_exactly_eight_random_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="8 random bytes"):
        ba.new_code(b"\x00" * size)


@pytest.mark.parametrize("text", ["12345", "1234567", "12345a", "１２３４５６", "12345²", ""])
def test_malformed_codes_are_not_codes(text: str) -> None:
    assert not ba.is_well_formed_code(text)


@given(subject_keys, codes, st.timedeltas(min_value=timedelta(0), max_value=ba.CODE_LIFETIME))
def test_the_right_code_in_time_is_accepted_once(key: bytes, code: str, age: timedelta) -> None:
    now = T0 + age - timedelta(microseconds=1) if age else T0
    outcome, after = ba.check_code(issue(key, code), KEY, code, now)
    assert outcome is ba.CodeOutcome.ACCEPTED
    assert after.used
    again, _ = ba.check_code(after, KEY, code, now)
    assert again is ba.CodeOutcome.LOCKED


@given(subject_keys, codes, codes)
def test_a_wrong_code_costs_a_try(key: bytes, code: str, other: str) -> None:
    if other == code:
        return
    outcome, after = ba.check_code(issue(key, code), KEY, other, T0)
    assert outcome is ba.CodeOutcome.WRONG
    assert after.tries == 1
    assert after.tries_left == ba.CODE_MAX_TRIES - 1


@given(subject_keys, subject_keys, codes)
def test_a_code_sent_to_one_identifier_proves_nothing_for_another(
    key: bytes, other: bytes, code: str
) -> None:
    if key == other:
        return
    foreign = ba.IssuedCode(other, issue(key, code).digest, T0)
    outcome, _ = ba.check_code(foreign, KEY, code, T0)
    assert outcome is not ba.CodeOutcome.ACCEPTED


@given(subject_keys, codes)
def test_the_fifth_wrong_try_locks_even_the_right_code(key: bytes, code: str) -> None:
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    state = issue(key, code)
    outcomes = []
    for _ in range(ba.CODE_MAX_TRIES):
        outcome, state = ba.check_code(state, KEY, wrong, T0)
        outcomes.append(outcome)
    assert outcomes == [ba.CodeOutcome.WRONG] * (ba.CODE_MAX_TRIES - 1) + [ba.CodeOutcome.LOCKED]
    final, unchanged = ba.check_code(state, KEY, code, T0)
    assert final is ba.CodeOutcome.LOCKED
    assert unchanged == state


@given(subject_keys, codes, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)))
def test_an_expired_code_is_refused_and_costs_nothing(
    key: bytes, code: str, late: timedelta
) -> None:
    state = issue(key, code)
    outcome, after = ba.check_code(state, KEY, code, T0 + ba.CODE_LIFETIME + late)
    assert outcome is ba.CodeOutcome.EXPIRED
    assert after == state


@given(offsets, offsets)
def test_a_session_ends_at_idle_or_absolute_limit(first: timedelta, second: timedelta) -> None:
    times = ba.SessionTimes(T0, T0)
    seen = times.touched(T0 + first)
    end = seen.expires_at()
    assert end <= T0 + ba.SESSION_ABSOLUTE
    assert end <= seen.last_seen_at + ba.SESSION_IDLE
    now = T0 + first + second
    assert seen.is_live(now) == (now < end)


@given(st.lists(offsets, max_size=20))
def test_activity_never_extends_a_session_past_one_hour(steps: list[timedelta]) -> None:
    times = ba.SessionTimes(T0, T0)
    for step in sorted(steps):
        times = times.touched(T0 + step)
    assert times.expires_at() <= T0 + ba.SESSION_ABSOLUTE
    assert not times.is_live(T0 + ba.SESSION_ABSOLUTE)


def test_session_tokens_are_stored_hashed() -> None:
    token = b"t" * ba.SESSION_TOKEN_BYTES
    assert ba.session_digest(token) != token
    assert ba.session_digest(token) == ba.session_digest(bytes(token))
    assert ba.session_digest(token) != ba.session_digest(b"u" * ba.SESSION_TOKEN_BYTES)


@given(st.timedeltas(min_value=timedelta(seconds=-60), max_value=timedelta(minutes=30)))
def test_a_handoff_lives_at_most_ten_minutes(lifetime: timedelta) -> None:
    ok = ba.handoff_lifetime_ok(T0, T0 + lifetime)
    assert ok == (timedelta(0) < lifetime <= timedelta(minutes=10))


@given(st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800))))
def test_a_relationship_is_a_contact_within_a_year(age: timedelta | None) -> None:
    last = None if age is None else T0 - age
    assert ba.has_relationship(last, T0) == (age is not None and age <= timedelta(days=365))
