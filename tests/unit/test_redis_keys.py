"""Every Redis key the registry builds carries a hash tag; keys used together share a slot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from refund_registry.config import ConfigError, Settings
from refund_registry.storage.cache import EPOCH_KEY, RedisBreaker, ReplayGuard
from refund_registry.storage.ratelimit import DAY, RateLimiter
from refund_registry.storage.redis_client import (
    cluster_nodes,
    create_redis,
    hash_tag,
    is_cluster_url,
    tag_of,
)

SRC = Path(__file__).resolve().parents[2] / "src" / "refund_registry"

# Values as they come: member ids, e-mail addresses, IP addresses, iss:jti
# pairs, and anything with braces in it.
values = st.text(min_size=0, max_size=40) | st.text(alphabet="{}%:ab", max_size=12)


def slot(key: str) -> int:
    return key_slot(key.encode())


def limiter(namespace: str) -> RateLimiter:
    return RateLimiter(None, RedisBreaker(), namespace=namespace, per_second=5, per_day=10)


def literals() -> set[str]:
    """Every string literal in the source that starts a Redis key (``"rr:…"``)."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        found.update(re.findall(r"""["'](rr:[^"'\s]*)["']""", path.read_text()))
    return found


@given(values, st.floats(min_value=0, max_value=4e9))
def test_a_rate_limit_s_two_keys_are_tagged_and_share_one_slot(subject: str, now: float) -> None:
    second, day = limiter("rr:rl:query").keys(subject, now)
    assert tag_of(second) is not None
    assert tag_of(day) is not None
    assert slot(second) == slot(day)
    assert second != day


@given(values, values)
def test_distinct_subjects_never_share_counters(a: str, b: str) -> None:
    keys_a = limiter("rr:rl:query").keys(a, 7 * DAY)
    keys_b = limiter("rr:rl:query").keys(b, 7 * DAY)
    assert (keys_a == keys_b) == (a == b)


@given(values)
def test_a_replay_claim_key_is_tagged_by_the_token_alone(jti: str) -> None:
    guard = ReplayGuard(None, RedisBreaker())
    key = guard.key(jti)
    assert tag_of(key) == hash_tag(jti)[1:-1]
    assert key != guard.epoch_key
    # The claim and the epoch are separate commands of one pipeline; each is
    # one key, so a cluster routes each to its own node.
    assert tag_of(guard.epoch_key) is not None


@given(values)
def test_hash_tags_are_never_empty_and_never_cut_short(value: str) -> None:
    tag = hash_tag(value)
    inner = tag_of("x:" + tag + ":y")
    assert inner is not None
    assert inner == tag[1:-1]
    assert "{" not in inner
    assert "}" not in inner


@given(values, values)
def test_hash_tags_of_different_values_differ(a: str, b: str) -> None:
    # Values with and without the escaped characters meet here: "{" against "%7B".
    assert (hash_tag(a) == hash_tag(b)) == (a == b)
    assert hash_tag(a + "{") != hash_tag(a + "%7B")
    assert hash_tag(a + "}") != hash_tag(a + "%7D")


def test_every_key_literal_in_the_source_is_tagged_or_builds_tagged_keys() -> None:
    found = literals()
    assert EPOCH_KEY in found
    assert "rr:rl:query" in found
    for literal in found:
        if tag_of(literal) is not None:
            continue
        if literal.startswith("rr:rl:"):
            second, day = limiter(literal).keys("member-1", 1_000_000)
            assert tag_of(second), literal
            assert slot(second) == slot(day), literal
        elif literal == "rr:jti:":
            assert tag_of(ReplayGuard(None, RedisBreaker(), prefix=literal).key("iss:jti"))
        else:
            pytest.fail(f"Redis key {literal!r} has no hash tag and builds none")


def test_a_custom_prefix_gets_a_tagged_epoch_of_its_own() -> None:
    guard = ReplayGuard(None, RedisBreaker(), prefix="test:jti:")
    assert guard.epoch_key != EPOCH_KEY
    assert tag_of(guard.epoch_key) is not None


def test_a_cluster_url_names_its_seed_nodes_and_credentials() -> None:
    nodes, options = cluster_nodes(
        "rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7001"
    )
    assert [(n.host, n.port) for n in nodes] == [
        ("10.0.0.1", 7000),
        ("10.0.0.2", 6379),
        ("::1", 7001),
    ]
    assert options == {"username": "app", "password": "s@cret", "ssl": True}
    assert is_cluster_url("valkey+cluster://h:1")
    assert not is_cluster_url("redis://h:1")
    with pytest.raises(ValueError, match="no host"):
        cluster_nodes("redis+cluster://10.0.0.1:7000,")


async def test_a_cluster_url_gives_a_cluster_client() -> None:
    client = create_redis("redis+cluster://127.0.0.1:7000,127.0.0.1:7001")
    try:
        assert isinstance(client, RedisCluster)
    finally:
        await client.aclose()


def test_settings_accept_a_cluster_url_and_refuse_other_schemes() -> None:
    url = "redis+cluster://10.0.0.1:7000,10.0.0.2:7000"
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url
    with pytest.raises(ConfigError):
        Settings.from_env({"REDIS_URL": "memcached+cluster://10.0.0.1:7000"})
