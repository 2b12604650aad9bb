"""PostgreSQL connections, and the one place driver errors become domain errors.

Every call has a bounded time, so that a database that dies mid-call costs a
request seconds (a 503 with ``Retry-After``), never a hang:

* connecting: :data:`CONNECT_TIMEOUT`; waiting for a pooled connection:
  :data:`ACQUIRE_TIMEOUT` (:class:`BoundedPool`);
* every statement: the driver's ``command_timeout`` and the server's
  ``statement_timeout`` (:data:`COMMAND_TIMEOUT`); a transaction left idle
  is ended by the server after :data:`IDLE_IN_TRANSACTION_TIMEOUT`;
* every COPY: :func:`copy_records`, which also wakes the writer the moment
  its connection is lost (the driver itself waits forever for the socket to
  drain when the server dies mid-COPY).

Every driver error that means "the connection is gone or the server is not
there" (:data:`CONNECTION_GONE`) becomes :class:`~refund_registry.errors.Unavailable`
with code ``db.unavailable``, in :func:`translated` and nowhere else.

A ``DATABASE_URL`` may name several hosts, libpq style
(``postgresql://u:p@db1:5432,db2:5432/registry?target_session_attrs=read-write``):
the driver tries them in order at every connect and keeps the first that
accepts writes, so a pool follows the primary through a failover. Connections
to a primary that died are dropped by the pool when they fail; a connection
still open to a server that no longer accepts writes (a primary demoted to a
standby) fails its first write with ``read_only_sql_transaction``, which is
answered 503 like a lost connection and expires every pool's connections
(:func:`_follow_primary`), so that the next calls connect afresh and find the
new primary. While no host accepts writes, connecting fails and the API
answers 503 ``db.unavailable`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar, cast

import asyncpg
import msgspec

from refund_registry.errors import Conflict, InvalidInput, Unavailable
from refund_registry.storage.queries import Q

APP_ROLE = "registry_app"
"""The NOLOGIN role that holds the API's table grants."""
API_LOGIN_ROLE = "registry_api"
"""The API's login role: a member of ``APP_ROLE`` that owns nothing."""
KEYSERVICE_LOGIN_ROLE = "registry_keyservice"
"""The key service's login role: reads principal keys, counts evaluations, nothing else."""
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection (PostgreSQL down or starting: refused much sooner)."""
ACQUIRE_TIMEOUT = 60.0
"""Seconds a call waits for a free pooled connection before answering 503 (a queue
of callers behind a busy pool is normal under load; a queue that never moves is not)."""
COMMAND_TIMEOUT = 30.0
"""Seconds one statement (or one COPY) may take, client and server side."""
IDLE_IN_TRANSACTION_TIMEOUT = 60.0
"""Seconds the server keeps a transaction whose client went quiet (a dead process)."""

# Errors that mean "the database is not there right now", not "your input is
# wrong": the connection is gone (killed server, reset socket, a protocol left
# mid-operation by a lost connection: "cannot switch to state …; another
# operation is in progress"), the server is starting or shutting down, or a
# call outlived its time.
CONNECTION_GONE: tuple[type[BaseException], ...] = (
    OSError,  # includes TimeoutError and ConnectionError
    asyncpg.InterfaceError,  # includes ConnectionDoesNotExistError
    asyncpg.InternalClientError,  # includes ProtocolError
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.QueryCanceledError,  # statement_timeout
    asyncpg.IdleInTransactionSessionTimeoutError,
)
_UNAVAILABLE = CONNECTION_GONE

_POOLS: weakref.WeakSet[asyncpg.Pool] = weakref.WeakSet()
"""Every open pool of this process, for :func:`_follow_primary`."""


async def _follow_primary() -> None:
    """Close every pooled connection at its next release; new ones look for the primary again.

    Called when a write met a server in recovery (a standby): the pooled
    connections were opened to a server that was the primary then. Expiring
    is cheap (a generation counter); connections in use finish their call first.
    """
    for pool in list(_POOLS):
        with contextlib.suppress(Exception):  # a pool closing meanwhile
            await pool.expire_connections()


# A connection that logged in as a member of the application role (the owner
# itself, outside production) acts as that role, so that the REVOKEs on the
# append-only tables apply to it too. The boundary in production is the login
# role (see ``login_role_problems``); this keeps a developer's superuser URL
# from quietly bypassing the grants.
_ACT_AS_APP_ROLE = """
SELECT set_config('role', r.rolname, false)
FROM pg_roles r
WHERE r.rolname = $1 AND pg_has_role(current_user, r.oid, 'MEMBER')
"""


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.fetch(_ACT_AS_APP_ROLE, APP_ROLE)
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


class BoundedPool(asyncpg.Pool):
    """A pool whose :meth:`acquire` gives up after :data:`ACQUIRE_TIMEOUT` by default.

    asyncpg waits for a free connection forever unless told otherwise; every
    caller of the registry goes through here, so none can wait unbounded.
    """

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=ACQUIRE_TIMEOUT if timeout is None else timeout)


SERVER_SETTINGS = {
    "application_name": "refund-registry",
    "statement_timeout": str(int(COMMAND_TIMEOUT * 1000)),
    "idle_in_transaction_session_timeout": str(int(IDLE_IN_TRANSACTION_TIMEOUT * 1000)),
}
"""Session settings of every pooled connection (milliseconds for the timeouts)."""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections hold no more than the application role's grants.

    The boundary is the login role of ``dsn`` (``registry_api`` in production,
    which owns nothing and cannot become the owner); a login role that is a
    member of ``registry_app`` also switches to it on connect. Every wait on
    it is bounded (module docstring).
    """
    pool = BoundedPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        connect=None,
        setup=None,
        init=_init_connection,
        # Handlers leave no session state behind (no SET, no temp tables, no
        # LISTEN on pooled connections), so the per-release reset query is
        # pure overhead on the hot path.
        reset=_no_reset,
        loop=None,
        connection_class=asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings=SERVER_SETTINGS,
        command_timeout=COMMAND_TIMEOUT,
        timeout=CONNECT_TIMEOUT,
    )
    try:
        await pool
    except _UNAVAILABLE as exc:
        await pool.close()
        raise Unavailable(f"PostgreSQL is unreachable: {exc}", code="db.unavailable") from exc
    _POOLS.add(pool)
    return pool


async def copy_records(
    conn: Any,
    table: str,
    *,
    records: Any,
    columns: Sequence[str],
    within: float = COMMAND_TIMEOUT,
) -> None:
    """``COPY table (columns) FROM STDIN`` of ``records``, bounded in time.

    The driver's COPY writer waits for the socket to drain before each chunk
    and is never woken when the connection is lost meanwhile (the server
    died), so the COPY runs as a task of its own, raced against the
    connection's termination and a deadline of ``within`` seconds; either
    ends it with :class:`asyncpg.ConnectionDoesNotExistError` or
    :class:`TimeoutError`, which :func:`translated` answers with 503.
    """
    await bounded_copy(
        conn,
        table,
        lambda: conn.copy_records_to_table(table, records=records, columns=list(columns)),
        within,
    )


async def bounded_copy(
    conn: Any, table: str, copy: Callable[[], Coroutine[Any, Any, Any]], within: float
) -> None:
    """Run the COPY that ``copy()`` starts as :func:`copy_records` describes."""
    loop = asyncio.get_running_loop()
    lost: asyncio.Future[None] = loop.create_future()

    def on_lost(_: object) -> None:
        if not lost.done():
            lost.set_result(None)

    conn.add_termination_listener(on_lost)
    task = loop.create_task(copy())
    try:
        done, _ = await asyncio.wait(
            {task, lost}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
    except BaseException:  # cancelled from outside: take the COPY down with us
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    finally:
        with contextlib.suppress(Exception):
            conn.remove_termination_listener(on_lost)
    if task in done:
        task.result()
        return
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    if lost.done():
        raise asyncpg.ConnectionDoesNotExistError(f"the connection was lost during COPY {table}")
    raise TimeoutError(f"COPY {table} did not finish within {within:.0f} s")


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
    except (asyncpg.DataError, OverflowError) as exc:
        # The driver's message may quote the value (and, for some types, the
        # column); the caller learns only that a value did not fit. Every
        # request field has a domain bound, so this is a last line of defence.
        raise InvalidInput(
            "a value is out of the range the registry stores", code="request.value_out_of_range"
        ) from exc
    except asyncpg.DeadlockDetectedError as exc:
        raise Unavailable(
            "a concurrent upload touched the same buyers; retry", retry_after=1
        ) from exc
    except asyncpg.SerializationError as exc:
        raise Unavailable("a concurrent change got in the way; retry", retry_after=1) from exc
    except _UNAVAILABLE as exc:
        raise Unavailable(f"PostgreSQL is unreachable: {exc}", code="db.unavailable") from exc
    except asyncpg.ReadOnlySQLTransactionError as exc:
        # The server this connection reached is no longer the primary (a
        # failover): the sentence of a lost connection, whose catalog entry it shares.
        await _follow_primary()
        raise Unavailable(f"PostgreSQL is unreachable: {exc}", code="db.unavailable") from exc


def translating(fn: F) -> F:
    """Decorator form of :func:`translated` for a whole storage-facing coroutine."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        async with translated():
            return await fn(*args, **kwargs)

    return cast(F, wrapper)


_LOGIN_ROLE_REACH = """
SELECT r.rolname AS login,
       r.rolsuper AS superuser,
       r.rolcreaterole AS createrole,
       r.rolbypassrls AS bypassrls,
       (SELECT array_agg(DISTINCT o.rolname ORDER BY o.rolname)
          FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner
         WHERE c.relnamespace = 'public'::regnamespace
           AND pg_has_role(r.oid, c.relowner, 'MEMBER')) AS reachable_owners
FROM pg_roles r
WHERE r.rolname = session_user
"""


async def login_role_problems(dsn: str) -> list[str]:
    """Why the login role of ``dsn`` is no boundary; empty when it is one.

    A login role is a boundary when it is no superuser, cannot create roles or
    bypass row security, and neither owns a table of the schema nor is a member
    (directly or through other roles) of a role that does: only then can it not
    ``SET ROLE`` to the owner, disable the append-only triggers or undo a
    REVOKE. Raises :class:`Unavailable` when PostgreSQL cannot be reached.
    """
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except _UNAVAILABLE as exc:
        raise Unavailable(f"PostgreSQL is unreachable: {exc}", code="db.unavailable") from exc
    try:
        row = await conn.fetchrow(_LOGIN_ROLE_REACH)
    finally:
        await conn.close()
    assert row is not None  # session_user always exists
    login = row["login"]
    problems: list[str] = []
    if row["superuser"]:
        problems.append(f"the login role {login!r} is a superuser")
    if row["createrole"]:
        problems.append(f"the login role {login!r} may create roles")
    if row["bypassrls"]:
        problems.append(f"the login role {login!r} bypasses row security")
    owners = row["reachable_owners"] or []
    if owners:
        problems.append(
            f"the login role {login!r} owns, or may become, the owner of the schema's tables "
            f"({', '.join(owners)})"
        )
    return problems


def login_role_script(passwords: dict[str, str]) -> str:
    """SQL that creates each login role of ``passwords`` (if absent) with its password.

    For the embedded cluster, run by its superuser before migrating: the
    migrations make the roles members of the grant holders. The passwords are
    generated ``[A-Za-z0-9_-]`` strings, so quoting them is exact.
    """
    statements = []
    for role, password in sorted(passwords.items()):
        if not role.isidentifier() or not all(c.isalnum() or c in "-_" for c in password):
            raise ValueError("role names and generated passwords only")
        statements.append(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
            f"'{role}') THEN CREATE ROLE {role} LOGIN; END IF; END $$;\n"
            f"ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"PASSWORD '{password}';\n"
        )
    return "".join(statements)
