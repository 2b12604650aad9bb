"""The trust boundaries a production process checks before it starts.

Three secrets must never meet in one process: the OPRF key (the key service
alone), the registry key and the log key (the API alone). In production each
runs as its own OS user with its own key folder, and each refuses to start
when it finds the other's key readable or itself running as the other's user:
a misconfigured host stops at once instead of quietly holding both keys.

The API also refuses a database login role that could lift the append-only
guarantees (a superuser, the owner, or a member of the owner).

Outside production nothing here refuses: zero-setup mode keeps every key in
one folder on purpose, and says so once (:func:`zero_setup_notice`).
"""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Callable

from refund_registry.config import Settings

log = logging.getLogger("refund_registry.boundaries")

Readable = Callable[[str], bool]


def os_user() -> str:
    """The name of the OS user this process runs as (its effective uid)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _readable(path: str) -> bool:
    return os.access(path, os.R_OK)


def serve_refusals(
    settings: Settings, *, user: str | None = None, readable: Readable = _readable
) -> list[str]:
    """Why ``serve`` must not start in production; empty when it may (or outside production)."""
    if settings.environment != "production":
        return []
    problems: list[str] = []
    if not settings.keyservice_url:
        problems.append(
            "REGISTRY_KEYSERVICE_URL is required when REGISTRY_ENVIRONMENT=production: serve "
            "never starts a key service beside the API in production"
        )
    oprf_key = settings.key_path("keyservice")
    if readable(str(oprf_key)):
        problems.append(
            f"the API process can read the OPRF key {oprf_key}; the key service's key must "
            "live where only the key service's OS user can read it"
        )
    me = user if user is not None else os_user()
    if settings.keyservice_user and me == settings.keyservice_user:
        problems.append(
            f"serve runs as {me!r}, the key service's OS user (REGISTRY_KEYSERVICE_USER); "
            "run the API as its own user"
        )
    return problems


def keyservice_refusals(
    settings: Settings, *, user: str | None = None, readable: Readable = _readable
) -> list[str]:
    """Why ``keyservice`` must not start in production; empty when it may."""
    if settings.environment != "production":
        return []
    problems: list[str] = []
    me = user if user is not None else os_user()
    if not settings.api_user:
        problems.append(
            "REGISTRY_API_USER is required when REGISTRY_ENVIRONMENT=production: it names the "
            "API's OS user, which the key service must not run as"
        )
    elif me == settings.api_user:
        problems.append(
            f"the key service runs as {me!r}, the API's OS user (REGISTRY_API_USER); run it "
            "as its own user (REGISTRY_KEYSERVICE_USER) with its own key folder"
        )
    for name in ("registry", "log"):
        path = settings.key_path(name)
        if readable(str(path)):
            problems.append(
                f"the key service can read the API's {name} key {path}; the two keys must "
                "never be readable by one process"
            )
    return problems


async def login_role_refusals(settings: Settings) -> list[str]:
    """Why the API's database login role is no boundary; production refuses, others warn."""
    from refund_registry.storage.db import login_role_problems

    problems = await login_role_problems(settings.database_url)
    if problems and settings.environment != "production":
        log.warning(
            "the database login role is not a boundary (refused in production): "
            + "; ".join(problems)
        )
        return []
    return problems


def zero_setup_notice(settings: Settings) -> None:
    """Say once, plainly, that zero-setup mode keeps both keys together."""
    log.warning(
        "zero-setup mode: the OPRF key and the registry key are kept together in "
        f"{settings.data_dir / 'keys'}, readable by one OS user; this is for a single "
        "machine, not for production (see docs/operations.md, production layout)"
    )
