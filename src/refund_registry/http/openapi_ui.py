"""The browsable API documentation under ``/schema``, working without the internet.

Litestar's documentation pages load their scripts from public CDNs by
default, so on an operator's closed network (or a laptop offline) they come
up blank. Here they load pinned copies shipped inside the package
(``http/static/openapi/``, versions and SHA-256 in ``VENDORED.md`` there),
served from the same origin under :data:`ASSETS_PATH`.

Only the viewers that need nothing else from outside are offered: Redoc
(also at ``/schema`` itself) and Swagger UI, plus the document as JSON and
YAML. The Stoplight Elements and RapiDoc pages are left out; Redoc's Google
Fonts link is dropped (it falls back to the system fonts).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Final

from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.router import Router
from litestar.static_files import create_static_files_router

ASSETS_PATH: Final = "/schema/static"
_FAVICON: Final = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"


def assets_folder() -> Path:
    """The vendored files, wherever the package is installed (a wheel ships them)."""
    return Path(str(resources.files("refund_registry.http").joinpath("static", "openapi")))


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The pages under ``/schema``; the first one is also served at ``/schema`` itself."""
    return [
        RedocRenderPlugin(
            js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            google_fonts=False,
            path=["/", "/redoc"],
            favicon=_FAVICON,
        ),
        SwaggerRenderPlugin(
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            path="/swagger",
            favicon=_FAVICON,
        ),
        JsonRenderPlugin(path="/openapi.json"),
        YamlRenderPlugin(path=["/openapi.yaml", "/openapi.yml"]),
    ]


def offline(config: OpenAPIConfig) -> OpenAPIConfig:
    """``config`` serving :func:`render_plugins` instead of Litestar's CDN-backed defaults."""
    # The defaults a config filled in when it was built (every viewer enabled,
    # Redoc at the root) belong to the older settings; cleared, they neither
    # compete with the plugins nor warn.
    return dataclasses.replace(
        config, render_plugins=render_plugins(), root_schema_site=None, enabled_endpoints=None
    )


def assets_router() -> Router:
    """Serves the vendored files; public, so shared caches may keep them for an hour."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[assets_folder()],
        name="openapi_assets",
        include_in_schema=False,
        cache_control=CacheControlHeader(public=True, max_age=3600),
        send_as_attachment=False,
    )
