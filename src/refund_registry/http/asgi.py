"""ASGI entry point for running under any server with the URLs set.

``granian --interface asgi --factory refund_registry.http.asgi:app_from_env``
or ``uvicorn --factory refund_registry.http.asgi:app_from_env``: the settings
come from the environment (``DATABASE_URL`` and ``REDIS_URL`` required);
migrations are run separately with ``refund-registry migrate``.
"""

from __future__ import annotations

from litestar import Litestar

from refund_registry.config import Settings
from refund_registry.http.app import create_app


def app_from_env() -> Litestar:
    settings = Settings.from_env()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("set DATABASE_URL and REDIS_URL (or use `refund-registry serve`)")
    return create_app(settings)
