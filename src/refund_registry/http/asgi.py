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
    """The API from the environment; in production, only where the trust boundaries hold.

    The same refusals as ``refund-registry serve``: the API must not read the
    OPRF key nor run as the key service's OS user (checked here), and its
    database login role must not be able to become the owner (checked at
    start-up, before the first request).
    """
    from refund_registry.cli import boundaries

    settings = Settings.from_env()
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("set DATABASE_URL and REDIS_URL (or use `refund-registry serve`)")
    refusals = boundaries.serve_refusals(settings)
    if refusals:
        raise RuntimeError("refusing to start: " + "; ".join(refusals))
    app = create_app(settings)

    async def check_login_role() -> None:
        problems = await boundaries.login_role_refusals(settings)
        if problems:
            raise RuntimeError("refusing to start: " + "; ".join(problems))

    app.on_startup.append(check_login_role)
    return app
