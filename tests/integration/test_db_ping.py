"""The readiness check of PostgreSQL: an answer within the bound, or ``Unavailable``."""

from __future__ import annotations

import pytest

from refund_registry.errors import Unavailable
from refund_registry.runtime import Runtime
from refund_registry.storage.db import create_pool, ping


async def test_ping_answers_when_postgres_does(runtime: Runtime) -> None:
    await ping(runtime.pool)


async def test_ping_reports_a_database_it_cannot_reach(db_url: str) -> None:
    pool = await create_pool(db_url, min_size=1, max_size=1)
    await pool.close()
    with pytest.raises(Unavailable) as down:
        await ping(pool, within=1)
    assert down.value.code == "db.unavailable"
    assert down.value.__cause__ is not None
