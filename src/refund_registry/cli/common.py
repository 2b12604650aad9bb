"""What every command shares: its settings, its backing servers, its locks and errors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from refund_registry.cli.embedded import EmbeddedError, EmbeddedServers, running_folders
from refund_registry.config import Settings

log = logging.getLogger("refund_registry.cli")
T = TypeVar("T")


class CommandError(Exception):
    """A failure to report on one line and exit with ``exit_code`` (1: it failed)."""

    exit_code = 1


class UsageError(CommandError):
    """Bad arguments or input files: exit status 2, as argparse uses."""

    exit_code = 2


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default after its help, unless there is none to show.

    Options whose default comes from the environment say so in their own help
    text; their argparse default is ``None`` and is not printed.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An argument parser whose sub-commands inherit its help layout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def json_option() -> argparse.ArgumentParser:
    """A parent parser giving a subcommand ``--json`` (print the result as JSON)."""
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the result as JSON")
    return as_json


def note(message: str) -> None:
    """One plain line for the person at the terminal, on stderr (stdout is for results)."""
    sys.stderr.write(f"refund-registry: {message}\n")
    sys.stderr.flush()


def read_file(path: str, what: str) -> bytes:
    """The bytes of an input file, or a one-line usage error naming it."""
    try:
        return Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{what} {path}: is a folder, not a file") from None
    except PermissionError:
        raise UsageError(f"{what} {path}: not readable (permission denied)") from None
    except OSError as exc:
        raise UsageError(f"{what} {path}: cannot be read ({exc.strerror or exc})") from None


def redacted(url: str) -> str:
    """``url`` without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    # The hosts as written: a multi-host URL (``h1:5432,h2:5432``) has no one port.
    hosts = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=user + hosts))


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings ``main`` read from the environment, with this command's flags."""
    settings: Settings = args.settings
    changes: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        changes["data_dir"] = Path(args.data_dir).expanduser()
    for name in ("host", "port"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    return settings.with_overrides(**changes) if changes else settings


@contextlib.contextmanager
def backing_servers(settings: Settings) -> Iterator[Settings]:
    """Yield settings whose URLs point at real servers, embedded ones if need be."""
    with attached_servers(settings) as (live, _):
        yield live


@contextlib.contextmanager
def attached_servers(settings: Settings) -> Iterator[tuple[Settings, EmbeddedServers | None]]:
    """:func:`backing_servers`, with the embedded servers it attached (None: none).

    ``serve`` keeps the embedded servers running (``cli/supervisor.py``).
    """
    if not settings.embedded:
        yield settings, None
        return
    servers = EmbeddedServers(
        settings.data_dir, postgres=not settings.database_url, valkey=not settings.redis_url
    )
    _say_which_folder(servers)
    try:
        endpoints = servers.attach()
    except EmbeddedError as exc:
        raise CommandError(str(exc)) from exc
    try:
        if settings.database_url:
            yield (
                settings.with_overrides(redis_url=settings.redis_url or endpoints.redis_url),
                servers,
            )
        else:
            # The API logs in as its own role; the superuser's URL serves only
            # to migrate (and to rotate the registry key).
            yield (
                settings.with_overrides(
                    database_url=endpoints.api_database_url,
                    owner_database_url=endpoints.database_url,
                    keyservice_database_url=endpoints.keyservice_database_url,
                    redis_url=settings.redis_url or endpoints.redis_url,
                ),
                servers,
            )
    finally:
        servers.release()


def _say_which_folder(servers: EmbeddedServers) -> None:
    """When servers run in other folders, say which folder this command uses.

    Without ``--data-dir`` a command uses the per-user folder; typed beside a
    ``serve`` that was given another folder it would quietly start a second,
    empty database. One line on stderr makes the slip visible.
    """
    here = servers.data_dir
    others = [f for f in running_folders() if f != here]
    if not others:
        return
    shown = ", ".join(str(f) for f in others[:3]) + (
        f" (and {len(others) - 3} more)" if len(others) > 3 else ""
    )
    if servers.running():
        note(f"using the embedded servers of {here} (servers also run in {shown})")
    else:
        note(
            f"starting embedded servers in {here}: none run there yet, but servers run in "
            f"{shown}; pass --data-dir {others[0]} to use those instead"
        )


@contextlib.contextmanager
def exclusive(data_dir: Path, what: str) -> Iterator[None]:
    """Refuse a second ``serve`` (or worker of the same kind) on one data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{what}.lock"
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise CommandError(
                f"another `refund-registry {what}` (pid {holder}) is already using {data_dir}; "
                "stop it first or pass a different --data-dir"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


async def with_pool(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work`` with a small connection pool of its own, closed afterwards."""
    from refund_registry.storage.db import create_pool

    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


def migrate_schema(settings: Settings) -> list[str]:
    """Bring the schema up to date (every command runs this first); returns what was applied.

    The schema version is read with the command's own login role. Only when
    migrations are pending (or that role cannot tell) does the owner's URL log
    in to apply them; in production, where the owner's URL is given to
    ``migrate`` alone, a command finding pending migrations stops and says so.
    """
    from refund_registry.storage import migrate

    pending = _run_db(settings.database_url, migrate.pending(settings.database_url))
    if pending == []:
        return []
    owner = settings.migration_database_url
    if not owner:
        what = (
            f"{len(pending)} migration(s) are pending ({', '.join(pending)})"
            if pending
            else "the schema version cannot be read with this login role"
        )
        raise CommandError(
            f"{what}; run `refund-registry migrate` with REGISTRY_OWNER_DATABASE_URL first"
        )
    return apply_migrations(settings)


def apply_migrations(settings: Settings) -> list[str]:
    """Apply pending migrations as the owner; refuse when no owner URL is configured."""
    from refund_registry.storage import migrate

    owner = settings.migration_database_url
    if not owner:
        raise UsageError(
            "REGISTRY_OWNER_DATABASE_URL is required when REGISTRY_ENVIRONMENT=production: "
            "migrations log in as the owner, never as the API's login role"
        )
    return _run_db(owner, migrate.apply(owner))


def _run_db(url: str, work: Coroutine[Any, Any, T]) -> T:
    import asyncpg

    from refund_registry.storage import migrate

    try:
        return asyncio.run(work)
    except migrate.MigrationError as exc:
        raise CommandError(f"migrations refused: {exc}") from exc
    except (TimeoutError, OSError) as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc) or "timed out"
        raise CommandError(f"cannot reach PostgreSQL at {redacted(url)}: {reason}") from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise CommandError(f"PostgreSQL at {redacted(url)}: {exc}") from exc
