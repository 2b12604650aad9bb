"""How many API worker processes ``serve`` runs, and whether PostgreSQL can take their pools.

Each worker opens its own connection pool (``REGISTRY_DB_POOL_MAX``
connections at most) and one more connection that listens for key changes;
the key-service child of zero-setup mode does the same. Before any worker
starts, ``serve`` asks PostgreSQL for ``max_connections`` less the slots it
reserves for superusers (``superuser_reserved_connections``,
``reserved_connections``) and refuses to start when the processes could
together ask for more: at peak the last requests would otherwise fail to
connect, at the worst moment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from refund_registry.config import Settings

LISTENER_CONNECTIONS = 1
"""Connections a process holds outside its pool (the LISTEN for key changes)."""


def default_workers(settings: Settings) -> int:
    """One per core available to this process in production; one in zero-setup mode.

    A laptop's zero-setup ``serve`` shares its cores with its own PostgreSQL
    and Valkey, and one process answers a developer's requests in
    milliseconds; pass ``--workers`` for more.
    """
    if settings.environment != "production":
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class ConnectionBudget:
    """What ``serve``'s processes may open against what PostgreSQL accepts."""

    workers: int
    per_process: int
    keyservice: int
    max_connections: int
    reserved: int

    @property
    def needed(self) -> int:
        return self.workers * self.per_process + self.keyservice

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved

    def refusal(self) -> str | None:
        """Why these workers cannot start, or None when their pools fit."""
        if self.needed <= self.available:
            return None
        child = f" + {self.keyservice} (key service)" if self.keyservice else ""
        return (
            f"{self.workers} workers x {self.per_process} connections each{child} = "
            f"{self.needed} could exceed PostgreSQL's max_connections {self.max_connections} "
            f"less {self.reserved} reserved ({self.available}); lower --workers or "
            "REGISTRY_DB_POOL_MAX, or raise max_connections"
        )


def per_process(settings: Settings) -> int:
    """Connections one API or key-service process may hold at once."""
    return settings.db_pool_max + LISTENER_CONNECTIONS


_LIMITS = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int
       + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0)
       AS reserved
"""


async def budget(settings: Settings, workers: int, *, keyservice_child: bool) -> ConnectionBudget:
    """The connection budget of ``workers`` API processes (and the child), from the server."""
    import asyncpg

    from refund_registry.storage.db import CONNECT_TIMEOUT

    conn = await asyncpg.connect(settings.database_url, timeout=CONNECT_TIMEOUT)
    try:
        row = await conn.fetchrow(_LIMITS)
    finally:
        await conn.close()
    assert row is not None
    each = per_process(settings)
    return ConnectionBudget(
        workers=workers,
        per_process=each,
        keyservice=each if keyservice_child else 0,
        max_connections=int(row["max_connections"]),
        reserved=int(row["reserved"]),
    )
