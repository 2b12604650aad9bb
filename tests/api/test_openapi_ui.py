"""The documentation pages under ``/schema`` load nothing from outside the registry.

Each page's ``src`` and ``href`` URLs must be same-origin paths, and each must
answer 200 with exactly the vendored bytes whose SHA-256 ``VENDORED.md`` notes.
(Whether the viewers then render is a browser's business; the bytes are the
published ones, unchanged.)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from refund_registry.http.openapi_ui import ASSETS_PATH, assets_folder

_ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_ROW = re.compile(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", re.MULTILINE)


def noted_hashes() -> dict[str, str]:
    text = (assets_folder() / "VENDORED.md").read_text(encoding="utf-8")
    return dict(_ROW.findall(text))


def test_every_vendored_file_is_noted_with_its_hash() -> None:
    noted = noted_hashes()
    on_disk = {p.name for p in assets_folder().iterdir() if p.name != "VENDORED.md"}
    assert set(noted) == on_disk
    for name, digest in noted.items():
        assert hashlib.sha256((assets_folder() / name).read_bytes()).hexdigest() == digest, name


def page_urls(html: str) -> list[str]:
    # Only the page's own markup: the inlined OpenAPI document follows the
    # scripts and holds URLs of its own (problem types), which load nothing.
    head = html.split("<body", 1)[0]
    return _ATTRIBUTE.findall(head)


@pytest.mark.parametrize(
    ("page", "needs"),
    [
        ("/schema/swagger", {"swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}),
        ("/schema/redoc", {"redoc.standalone.js"}),
        ("/schema", {"redoc.standalone.js"}),
    ],
)
async def test_a_page_loads_only_vendored_same_origin_files(
    client: httpx.AsyncClient, page: str, needs: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    urls = page_urls(response.text)
    assert urls, "the page loads no scripts at all"
    noted = noted_hashes()
    served: set[str] = set()
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert not parts.netloc, url  # no "//cdn.example" either
        assert parts.path.startswith(ASSETS_PATH + "/"), url
        name = parts.path.removeprefix(ASSETS_PATH + "/")
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert hashlib.sha256(asset.content).hexdigest() == noted[name], url
        served.add(name)
    assert needs <= served
    assert "fonts.googleapis.com" not in response.text


async def test_only_the_offline_viewers_are_offered(client: httpx.AsyncClient) -> None:
    for gone in ("/schema/elements", "/schema/rapidoc"):
        assert (await client.get(gone)).status_code == 404, gone
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200
    assert document.json()["info"]["title"] == "Refund Registry"
    assert (await client.get("/schema/openapi.yaml")).status_code == 200


def test_the_files_are_package_data() -> None:
    # A wheel carries only what pyproject.toml lists as package data.
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert '"http/static/**"' in pyproject.read_text(encoding="utf-8")
