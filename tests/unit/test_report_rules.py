"""Pure report rules: retention, request hashing, the subject-key chain."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain import reports as rules
from refund_registry.domain.keyring import Keyring
from refund_registry.domain.scoring import STATUSES
from refund_registry.domain.wire import b64url
from refund_registry.errors import Conflict, InvalidInput

moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
amounts = st.integers(min_value=1, max_value=10**10)
currencies = st.sampled_from(["CNY", "USD", "EUR", "JPY", "GBP"])


@given(moments, amounts, currencies, st.booleans())
def test_retention_never_exceeds_five_years(
    confirmed: datetime, amount: int, currency: str, repeat: bool
) -> None:
    until = rules.retention_until(
        confirmed, amount, currency, repeat_across_platforms=repeat, policy=rules.RetentionPolicy()
    )
    assert confirmed < until <= confirmed + timedelta(days=5 * 365 + 2)


@given(moments, amounts, currencies)
def test_repeat_cases_are_kept_at_least_as_long(confirmed: datetime, amount: int, cur: str) -> None:
    policy = rules.RetentionPolicy()
    single = rules.retention_until(
        confirmed, amount, cur, repeat_across_platforms=False, policy=policy
    )
    repeat = rules.retention_until(
        confirmed, amount, cur, repeat_across_platforms=True, policy=policy
    )
    assert repeat >= single


@given(moments, currencies, amounts, amounts)
def test_larger_cases_are_kept_at_least_as_long(
    confirmed: datetime, cur: str, a: int, b: int
) -> None:
    policy = rules.RetentionPolicy()
    small, large = sorted((a, b))
    keep = [
        rules.retention_until(confirmed, x, cur, repeat_across_platforms=False, policy=policy)
        for x in (small, large)
    ]
    assert keep[0] <= keep[1]


def test_retention_defaults() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    policy = rules.RetentionPolicy()

    def years(amount: int, repeat: bool = False) -> float:
        until = rules.retention_until(
            t, amount, "CNY", repeat_across_platforms=repeat, policy=policy
        )
        return round((until - t).days / 365.25, 1)

    assert years(49_999) == 2.0
    assert years(50_000) == 3.0
    assert years(100, repeat=True) == 5.0


def _report(**changes: object) -> rules.ReportInput:
    base = rules.ReportInput(
        case_reference="c-1",
        identifiers=(rules.Identifier("phone", "A" * 86), rules.Identifier("email", "Q" * 86)),
        category="other",
        amount_minor=100,
        currency="CNY",
        order_date=date(2026, 1, 1),
        refund_date=date(2026, 1, 2),
        confirmed_at=datetime(2026, 1, 3, tzinfo=UTC),
        buyer_notified_at=datetime(2026, 1, 3, tzinfo=UTC),
        evidence_kinds=("photo_forensics",),
        evidence_digest="A" * 43,
        standard_of_proof=dict.fromkeys(rules.PROOF_PARTS, True),
    )
    return msgspec.structs.replace(base, **changes)


def test_request_hash_ignores_identifier_order_but_not_content() -> None:
    a = _report()
    b = _report(identifiers=tuple(reversed(a.identifiers)))
    assert rules.request_hash(a) == rules.request_hash(b)
    assert rules.request_hash(a) != rules.request_hash(_report(amount_minor=101))
    assert rules.request_hash(a) != rules.request_hash(_report(evidence_kinds=("other",)))


def test_a_valid_report_has_no_violations() -> None:
    assert rules.validate(_report(), datetime(2026, 2, 1, tzinfo=UTC)) == []


@given(st.binary(min_size=64, max_size=64), st.integers(min_value=1, max_value=4))
def test_rewrap_equals_keying_with_the_longer_chain(pseudonym: bytes, old_len: int) -> None:
    keys = tuple(secrets.token_bytes(32) for _ in range(5))
    old = Keyring(keys[:old_len])
    new = Keyring(keys)
    assert new.rewrap(old.subject_key(pseudonym), old.version) == new.subject_key(pseudonym)


@given(
    st.binary(max_size=200),
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=4),
)
def test_a_subject_key_is_hmac_sha256_under_each_key_in_turn(
    value: bytes, keys: list[bytes], from_version: int
) -> None:
    keyring = Keyring(tuple(keys))
    expected = value
    for key in keys:
        expected = hmac.digest(key, expected, "sha256")
    assert keyring.subject_key(value) == expected
    # Re-wrapping from a version applies the keys after it, and only those.
    expected = value
    for key in keys[from_version:]:
        expected = hmac.digest(key, expected, "sha256")
    assert keyring.rewrap(value, from_version) == expected
    # The states are copied, never used up: the same value keys the same again.
    assert keyring.subject_key(value) == keyring.subject_key(value)


@given(st.text(max_size=90))
def test_b64url_decode_accepts_only_canonical_unpadded(text: str) -> None:
    raw = rules.b64url_decode(text)
    if raw is not None:
        import base64

        assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == text


@given(st.binary(max_size=80))
def test_b64url_decode_reads_every_canonical_encoding(raw: bytes) -> None:
    import base64

    text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    assert rules.b64url_decode(text) == raw
    # ...and the registry spells every value that way.
    assert b64url(raw) == text


facts_lists = st.lists(
    st.builds(
        rules.make_fact,
        st.text(min_size=1, max_size=8),
        st.sampled_from(["mem_a", "mem_b", "mem_c"]),
        st.just("other"),
        amounts,
        currencies,
        st.datetimes(
            min_value=datetime(2000, 1, 1),
            max_value=datetime(2035, 1, 1),
            timezones=st.sampled_from(
                [UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))]
            ),
        ),
        st.sampled_from(sorted(rules.COUNTING)),
    ),
    max_size=6,
)


@given(facts_lists)
def test_summary_counts_follow_the_facts(facts: list[rules.Fact]) -> None:
    """The counts the risk query reads equal a plain recount of the facts,
    whatever the offsets the confirmations were given in."""
    summary = rules.summarise(facts)
    assert summary.active_reports == len(facts)
    assert summary.disputed == sum(1 for f in facts if f["s"] == "disputed")
    assert summary.platforms == len({f["m"] for f in facts})
    latest = max((datetime.fromisoformat(f["t"]) for f in facts), default=None)
    assert summary.latest_confirmed_at == latest


@given(moments, amounts, currencies, st.booleans(), moments)
def test_a_report_is_refused_exactly_when_its_retention_is_over(
    confirmed: datetime, amount: int, currency: str, repeat: bool, now: datetime
) -> None:
    until = rules.retention_until(
        confirmed, amount, currency, repeat_across_platforms=repeat, policy=rules.RetentionPolicy()
    )
    violation = rules.retention_ended(until, now)
    assert (violation is None) == (until > now)
    if violation is not None:
        assert violation.code == "report.retention_ended"
        assert until.date().isoformat() in violation.detail


@given(st.text(max_size=600))
def test_a_retraction_reason_is_trimmed_and_bounded(reason: str) -> None:
    trimmed = reason.strip()
    if 1 <= len(trimmed) <= rules.REASON_MAX_CHARS:
        assert rules.retraction_reason(reason) == trimmed
    else:
        with pytest.raises(InvalidInput) as refused:
            rules.retraction_reason(reason)
        assert refused.value.code == "report.reason"


@given(st.sampled_from(sorted(STATUSES)))
def test_only_a_counting_report_can_be_retracted(status: str) -> None:
    if status in rules.COUNTING:
        rules.check_retractable(status)
    else:
        with pytest.raises(Conflict) as refused:
            rules.check_retractable(status)
        assert refused.value.code == "report.not_retractable"
