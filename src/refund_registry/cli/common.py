"""What every command shares: its settings, its backing servers, its locks and errors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from refund_registry.cli.embedded import EmbeddedError, EmbeddedServers
from refund_registry.config import Settings

log = logging.getLogger("refund_registry.cli")


class CommandError(Exception):
    """A failure to report on one line and exit non-zero."""


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
    if not settings.embedded:
        yield settings
        return
    servers = EmbeddedServers(
        settings.data_dir, postgres=not settings.database_url, valkey=not settings.redis_url
    )
    try:
        endpoints = servers.attach()
    except EmbeddedError as exc:
        raise CommandError(str(exc)) from exc
    try:
        yield settings.with_overrides(
            database_url=settings.database_url or endpoints.database_url,
            redis_url=settings.redis_url or endpoints.redis_url,
        )
    finally:
        servers.release()


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
    """Apply pending migrations (every command runs this first); returns what was applied."""
    from refund_registry.storage import migrate

    try:
        return asyncio.run(migrate.apply(settings.database_url))
    except migrate.MigrationError as exc:
        raise CommandError(f"migrations refused: {exc}") from exc
