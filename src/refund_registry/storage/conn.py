"""The connection type every repository function takes."""

from __future__ import annotations

import asyncpg

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
"""A connection, pooled or not; repository functions run in its current transaction."""
