"""The Redis (Valkey) client: one server or a Valkey Cluster, and how keys are named.

``REDIS_URL`` names either one server (``redis://``, ``rediss://``,
``valkey://``, ``unix://``) or a cluster, with ``+cluster`` after the scheme
and any number of seed nodes separated by commas::

    redis+cluster://:password@10.0.0.1:6379,10.0.0.2:6379,10.0.0.3:6379

A cluster URL gives redis-py's asyncio ``RedisCluster``, which learns the
rest of the cluster from the first seed that answers and follows it through
failovers and resharding.

Keys: every key the registry uses carries a *hash tag* (the part between the
first ``{`` and the next ``}``), so that the keys one script or one request
uses together always live in one slot of a cluster. :func:`hash_tag` builds
it from a value that may itself contain braces.

Unavailability: :data:`UNAVAILABLE` is every exception that means "Redis
cannot answer now": a lost connection, a timeout, and on a cluster also
``CLUSTERDOWN``, ``TRYAGAIN``, ``MASTERDOWN``, an uncovered slot and a run of
redirections that never settles (the gap of a failover). Callers catch
exactly this tuple and use their fallbacks.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError

RedisClient = aioredis.Redis | RedisCluster
"""What the registry talks to: one server or a cluster."""

UNAVAILABLE: Final = (RedisError, OSError, RedisClusterException)
"""Exceptions that mean Redis (or the part of the cluster a key lives on) is unavailable."""

CLUSTER_SCHEMES: Final = ("redis+cluster", "rediss+cluster", "valkey+cluster")

_ESCAPES: Final = str.maketrans({"%": "%25", "{": "%7B", "}": "%7D"})


def hash_tag(value: str) -> str:
    """``{value}`` with braces escaped: a hash tag that is never empty and never cut short."""
    if "{" in value or "}" in value or "%" in value:  # rare; translate costs ~2 us
        value = value.translate(_ESCAPES)
    return "{" + (value or "%") + "}"


def tag_of(key: str) -> str | None:
    """The hash tag Redis Cluster hashes ``key`` by, or None when it hashes the whole key."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0] in CLUSTER_SCHEMES


def cluster_nodes(url: str) -> tuple[list[ClusterNode], dict[str, Any]]:
    """The seed nodes of a cluster URL, and the client options it carries (credentials, TLS).

    Raises ValueError for a URL without a usable ``host:port``.
    """
    scheme, _, rest = url.partition("://")
    if scheme not in CLUSTER_SCHEMES:
        raise ValueError(f"not a cluster URL: {scheme}://")
    netloc, _, _path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    options: dict[str, Any] = {}
    if at:
        user, _, password = userinfo.partition(":")
        if user:
            options["username"] = unquote(user)
        if password:
            options["password"] = unquote(password)
    if scheme == "rediss+cluster":
        options["ssl"] = True
    nodes = []
    for part in hosts.split(","):
        parsed = urlsplit("//" + part.strip())
        if not parsed.hostname:
            raise ValueError(f"cluster node {part!r} has no host")
        nodes.append(ClusterNode(parsed.hostname, parsed.port or 6379))
    return nodes, options


def create_redis(url: str, **options: Any) -> RedisClient:
    """The service's Redis client; ``options`` go to redis-py (benchmarks pick a parser)."""
    # Short timeouts: a dead Redis must cost a request milliseconds, not seconds.
    common: dict[str, Any] = {
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
        "max_connections": 64,
        "health_check_interval": 0,
    }
    if is_cluster_url(url):
        nodes, credentials = cluster_nodes(url)
        # One retry, right after the client re-reads the cluster's slots: what
        # follows a promoted replica. Longer outages go to the fallbacks
        # (through the caller's breaker) instead of holding requests.
        return RedisCluster(
            startup_nodes=nodes,
            retry=Retry(NoBackoff(), 1),
            **common,
            **credentials,
            **options,
        )
    return aioredis.Redis.from_url(url, **common, **options)


def primaries(client: RedisClient) -> frozenset[str] | None:
    """The ``host:port`` of every primary a cluster client routes to (None for one server).

    A change between two answers means a failover (or resharding) happened
    in between: writes a dead primary acknowledged may not have reached the
    replica that took its place.
    """
    if not isinstance(client, RedisCluster):
        return None
    return frozenset(node.name for node in client.get_primaries())
