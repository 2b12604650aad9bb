"""Webhook rules: endpoint URLs, address checks, secrets, and the retry schedule."""

from __future__ import annotations

import base64
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from refund_registry.domain import webhooks as rules
from refund_registry.errors import Conflict, InvalidInput

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


# -- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://shop.example/hooks/rr", "shop.example", 443),
        ("https://Shop.Example.:8443/h?x=1", "shop.example", 8443),
        ("https://bücher.example/h", "xn--bcher-kva.example", 443),
        ("https://93.184.216.34/h", "93.184.216.34", 443),
        ("https://[2606:4700::1111]/h", "2606:4700::1111", 443),
    ],
)
def test_good_urls_are_taken_apart(url: str, host: str, port: int) -> None:
    endpoint = rules.parse_url(url, require_https=True)
    assert (endpoint.host, endpoint.port, endpoint.url) == (host, port, url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://shop.example/h",
        "javascript:alert(1)",
        "https:///nohost",
        "//shop.example/h",
        "https://user:pw@shop.example/h",
        "https://shop.example/h#frag",
        "https://shop.example/h x",
        " https://shop.example/h",
        "https://shop.example:99999/h",
        "https://exa_mple.com/h",
        "https://2130706433/h",
        "https://127.1/h",
        "https://shop.example/" + "a" * rules.URL_MAX,
    ],
)
def test_bad_urls_are_refused_with_a_stable_code(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.parse_url(url, require_https=True)
    assert caught.value.code == "webhook.url"


def test_http_only_outside_production() -> None:
    assert rules.parse_url("http://shop.example/h", require_https=False).port == 80
    with pytest.raises(InvalidInput) as caught:
        rules.parse_url("http://shop.example/h", require_https=True)
    assert caught.value.code == "webhook.url_https"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not rules.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2a00:1450:4001:80b::200e"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert rules.address_allowed(ipaddress.ip_address(address))


# -- secrets ------------------------------------------------------------------------------


def test_a_secret_is_whsec_and_base64_that_standard_webhooks_libraries_take() -> None:
    raw = bytes(range(32))
    text = rules.format_secret(raw)
    assert text.startswith("whsec_")
    assert base64.b64decode(text.removeprefix("whsec_")) == raw
    signed = Webhook(text).sign("evt_1-2", T0, "{}")
    assert signed == Webhook(raw).sign("evt_1-2", T0, "{}")
    with pytest.raises(ValueError, match="24 to 64"):
        rules.format_secret(bytes(23))


@given(secret=st.binary(min_size=24, max_size=64), nonce=st.binary(min_size=12, max_size=12))
def test_sealed_secrets_open_only_for_their_endpoint(secret: bytes, nonce: bytes) -> None:
    key = bytes(range(32))
    sealed = rules.seal(key, "whk_a", secret, nonce)
    assert secret not in sealed
    assert rules.unseal(key, "whk_a", sealed) == secret
    with pytest.raises(ValueError, match="does not open"):
        rules.unseal(key, "whk_b", sealed)
    with pytest.raises(ValueError, match="does not open"):
        rules.unseal(bytes(32), "whk_a", sealed)


@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_every_flipped_byte_of_a_sealed_secret_fails(position: int, flip: int) -> None:
    key = bytes(range(32))
    sealed = bytearray(rules.seal(key, "whk_a", bytes(32), bytes(12)))
    sealed[position % len(sealed)] ^= flip
    with pytest.raises(ValueError, match="does not open"):
        rules.unseal(key, "whk_a", bytes(sealed))


def test_both_secrets_sign_during_the_grace_period_only() -> None:
    until = T0 + rules.ROTATION_GRACE
    assert rules.signing_secrets(b"new", b"old", until, T0) == [b"new", b"old"]
    assert rules.signing_secrets(b"new", b"old", until, until) == [b"new"]
    assert rules.signing_secrets(b"new", None, None, T0) == [b"new"]


def test_message_ids_are_stable_and_free_of_full_stops() -> None:
    assert rules.message_id("812-44") == rules.message_id("812-44") == "evt_812-44"
    assert "." not in rules.message_id("812-44")


def test_the_payload_carries_the_feed_item_as_data() -> None:
    item = rules.feed_item("5-6", "report.filed", T0, "rpt_1", None, {"status": "active"})
    assert item == {
        "cursor": "5-6",
        "type": "report.filed",
        "at": "2026-03-01T12:00:00Z",
        "report_id": "rpt_1",
        "status": "active",
    }
    assert rules.payload(item) == {
        "type": "report.filed",
        "timestamp": "2026-03-01T12:00:00Z",
        "data": item,
    }


# -- the schedule -------------------------------------------------------------------------


def test_the_scheduled_waits_never_shrink() -> None:
    waits = list(rules.RETRY_DELAYS)
    assert waits == sorted(waits)
    assert waits[0] == timedelta(seconds=5)


def test_the_schedule_spans_more_than_a_day_without_jitter() -> None:
    assert sum(rules.RETRY_DELAYS, timedelta()) >= DAY


@given(
    attempt=st.integers(min_value=1, max_value=rules.MAX_ATTEMPTS - 1),
    jitter=st.floats(min_value=0.0, max_value=1.0),
)
def test_jitter_only_stretches_a_wait_and_is_bounded(attempt: int, jitter: float) -> None:
    base = rules.RETRY_DELAYS[attempt - 1]
    wait = rules.retry_delay(attempt, jitter)
    assert base <= wait <= base * (1 + rules.JITTER)
    assert wait <= max(rules.RETRY_DELAYS) * (1 + rules.JITTER)


@given(
    attempt=st.integers(min_value=1, max_value=rules.MAX_ATTEMPTS - 2),
    jitters=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
def test_the_earliest_next_wait_is_never_shorter_than_the_base_of_this_one(
    attempt: int, jitters: tuple[float, float]
) -> None:
    """Monotone in what a receiver can count on: wait n+1 is at least base wait n."""
    assert rules.retry_delay(attempt + 1, jitters[1]) >= rules.RETRY_DELAYS[attempt - 1]


@given(seconds=st.integers(min_value=0, max_value=10**7), attempt=st.integers(1, 7))
def test_retry_after_lengthens_a_wait_but_only_so_far(seconds: int, attempt: int) -> None:
    asked = timedelta(seconds=seconds)
    wait = rules.retry_delay(attempt, 0.0, asked)
    assert wait >= rules.RETRY_DELAYS[attempt - 1]
    assert wait <= max(rules.MAX_RETRY_AFTER, rules.RETRY_DELAYS[attempt - 1])
    if asked <= rules.MAX_RETRY_AFTER:
        assert wait >= asked


@given(
    jitters=st.lists(st.floats(0.0, 1.0), min_size=rules.MAX_ATTEMPTS, max_size=rules.MAX_ATTEMPTS),
    status=st.one_of(st.none(), st.integers(300, 599).filter(lambda s: s != rules.GONE)),
)
def test_an_event_that_always_fails_disables_exactly_after_the_last_attempt(
    jitters: list[float], status: int | None
) -> None:
    now, attempts = T0, []
    outcome: rules.Outcome = rules.Retry(0, T0)
    while isinstance(outcome, rules.Retry):
        now = outcome.at
        attempts.append(now)
        outcome = rules.after_attempt(len(attempts), status, now, jitter=jitters[len(attempts) - 1])
        if isinstance(outcome, rules.Retry):
            assert outcome.at > now
    assert outcome == rules.Disable(rules.MAX_ATTEMPTS, rules.REASON_EXHAUSTED)
    assert len(attempts) == rules.MAX_ATTEMPTS
    assert attempts[-1] - attempts[0] >= DAY
    assert attempts == sorted(attempts)


@given(attempt=st.integers(1, rules.MAX_ATTEMPTS), status=st.integers(200, 299))
def test_any_2xx_is_a_delivery_even_on_the_last_attempt(attempt: int, status: int) -> None:
    assert rules.after_attempt(attempt, status, T0, jitter=0.5) == rules.Delivered()


@given(attempt=st.integers(1, rules.MAX_ATTEMPTS))
def test_gone_disables_at_once(attempt: int) -> None:
    assert rules.after_attempt(attempt, 410, T0, jitter=0.0) == rules.Disable(attempt, "gone")


def test_redirects_are_failures() -> None:
    assert isinstance(rules.after_attempt(1, 301, T0, jitter=0.0), rules.Retry)


def test_attempts_outside_the_schedule_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="attempt"):
        rules.after_attempt(0, 500, T0, jitter=0.0)
    with pytest.raises(ValueError, match="attempt"):
        rules.after_attempt(rules.MAX_ATTEMPTS + 1, 500, T0, jitter=0.0)
    with pytest.raises(ValueError, match="no retry"):
        rules.retry_delay(rules.MAX_ATTEMPTS, 0.0)


def test_retry_after_is_read_in_seconds_only() -> None:
    assert rules.parse_retry_after("120") == timedelta(seconds=120)
    assert rules.parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert rules.parse_retry_after(None) is None


def test_a_member_has_room_for_ten_endpoints() -> None:
    rules.check_room(rules.MAX_ENDPOINTS - 1)
    with pytest.raises(Conflict) as caught:
        rules.check_room(rules.MAX_ENDPOINTS)
    assert caught.value.code == "webhook.too_many"


def test_log_cursors_and_limits() -> None:
    assert rules.parse_log_cursor("") == 0
    assert rules.parse_log_cursor("42") == 42
    for bad in ("-1", "x", "4²"):
        with pytest.raises(InvalidInput) as caught:
            rules.parse_log_cursor(bad)
        assert caught.value.code == "webhook.cursor"
    with pytest.raises(InvalidInput) as caught:
        rules.check_page_limit(0)
    assert caught.value.code == "webhook.page_limit"
