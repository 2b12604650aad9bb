"""PostgreSQL connections, and the one place driver errors become domain errors."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg
import msgspec

from refund_registry.errors import Conflict, InvalidInput, Unavailable
from refund_registry.storage.queries import Q

APP_ROLE = "registry_app"
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

# Errors that mean "the database is not there right now", not "your input is wrong".
_UNAVAILABLE = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # msgspec rather than the json module: the risk query decodes a subject's
    # facts on every look-up, and bulk intake encodes tens of thousands. jsonb
    # goes in its binary form (a version byte, then the text), which COPY needs.
    await conn.set_type_codec(
        "json", encoder=_json_text, decoder=msgspec.json.decode, schema="pg_catalog"
    )
    await conn.set_type_codec(
        "jsonb",
        encoder=_jsonb_binary,
        decoder=_jsonb_decode,
        schema="pg_catalog",
        format="binary",
    )


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _jsonb_binary(value: Any) -> bytes:
    return b"\x01" + msgspec.json.encode(value)


def _jsonb_decode(data: bytes) -> Any:
    if data[:1] != b"\x01":  # pragma: no cover - the only version PostgreSQL sends
        raise ValueError("unknown jsonb binary version")
    return msgspec.json.decode(memoryview(data)[1:])


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections act as the unprivileged application role."""
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            server_settings={"role": APP_ROLE, "application_name": "refund-registry"},
            init=_init_connection,
            # Handlers leave no session state behind (no SET, no temp tables, no
            # LISTEN on pooled connections), so the per-release reset query is
            # pure overhead on the hot path.
            reset=_no_reset,
            command_timeout=30,
        )
    except _UNAVAILABLE as exc:
        raise Unavailable(f"PostgreSQL is unreachable: {exc}", code="db.unavailable") from exc
    assert pool is not None
    return pool


async def _no_reset(conn: asyncpg.Connection) -> None:
    return None


PING_TIMEOUT = 2.0
"""Seconds a readiness check waits for PostgreSQL before calling it down."""


async def ping(pool: asyncpg.Pool, *, within: float = PING_TIMEOUT) -> None:
    """Check that PostgreSQL answers a trivial query within ``within`` seconds.

    For readiness probes: any failure (timeout, refused or lost connection, an
    exhausted pool, a server error) raises :class:`Unavailable` with code
    ``db.unavailable``, whose detail names the cause's class and whose
    ``__cause__`` is the original exception. Cancellation propagates as is.
    """
    try:
        async with asyncio.timeout(within):
            await pool.fetchval(Q["db_ping"])
    except Exception as exc:
        raise Unavailable(
            f"PostgreSQL did not answer: {exc.__class__.__name__}", code="db.unavailable"
        ) from exc


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Map driver errors raised inside the block to domain errors."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        # The driver's detail names the key values (subject keys among them):
        # never echo it to a caller.
        raise Conflict("this record already exists", code="db.unique_violation") from exc
    except asyncpg.DataError as exc:
        raise InvalidInput(
            f"a value is out of range: {exc}", code="request.value_out_of_range"
        ) from exc
    except asyncpg.DeadlockDetectedError as exc:
        raise Unavailable(
            "a concurrent upload touched the same buyers; retry", retry_after=1
        ) from exc
    except asyncpg.SerializationError as exc:
        raise Unavailable("a concurrent change got in the way; retry", retry_after=1) from exc
    except _UNAVAILABLE as exc:
        raise Unavailable(f"PostgreSQL is unreachable: {exc}", code="db.unavailable") from exc


def translating(fn: F) -> F:
    """Decorator form of :func:`translated` for a whole storage-facing coroutine."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        async with translated():
            return await fn(*args, **kwargs)

    return cast(F, wrapper)
