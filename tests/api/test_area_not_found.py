"""Unknown paths under the portal and the console answer the area's HTML 404 page, in the
visitor's language and with the area's security headers; the JSON API keeps its problems."""

from __future__ import annotations

import httpx
import pytest

from refund_registry.web.i18n import LANG_COOKIE
from refund_registry.web.security import CSP

PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def assert_html_404(answer: httpx.Response, words: str, area: str) -> None:
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    for name, value in PAGE_HEADERS.items():
        assert answer.headers[name] == value, name
    assert words in answer.text
    assert f'href="/{area}/static/' in answer.text  # the area's own page, not the other's


@pytest.mark.parametrize(
    "path",
    ["/portal/nothing-here", "/portal/appeals/x/y/z", "/portal/static/../nothing"],
)
async def test_an_unknown_portal_path_is_the_portals_404_page(
    client: httpx.AsyncClient, path: str
) -> None:
    chinese = await client.get(path)
    assert_html_404(chinese, "页面不存在。", "portal")
    assert 'lang="zh-CN"' in chinese.text
    client.cookies.set(LANG_COOKIE, "en")
    english = await client.get(path)
    assert_html_404(english, "There is no such page.", "portal")
    assert 'lang="en"' in english.text


@pytest.mark.parametrize(
    "path", ["/console/nothing-here", "/console/audit/nothing", "/console/queue/a/b"]
)
async def test_an_unknown_console_path_is_the_consoles_404_page(
    client: httpx.AsyncClient, path: str
) -> None:
    chinese = await client.get(path)
    assert_html_404(chinese, "页面不存在。", "console")
    client.cookies.set(LANG_COOKIE, "en")
    english = await client.get(path)
    assert_html_404(english, "There is no such page.", "console")
    assert "Refund Registry staff console" in english.text


async def test_a_missing_static_file_is_a_404_with_the_headers(client: httpx.AsyncClient) -> None:
    for area in ("portal", "console"):
        answer = await client.get(f"/{area}/static/no-such-file.css")
        assert answer.status_code == 404
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-security-policy"] == CSP
        found = await client.get(f"/{area}/static/portal.css")
        assert found.status_code == 200


async def test_known_pages_and_the_api_are_unchanged(client: httpx.AsyncClient) -> None:
    signin = await client.get("/console/audit")
    assert signin.status_code == 303  # a real page: sign in first
    assert (await client.get("/portal/signin")).status_code == 200
    api = await client.get("/v1/no-such-route")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert "code" in api.json()
    elsewhere = await client.get("/portalx")
    assert elsewhere.headers["content-type"].startswith("application/problem+json")


async def test_an_unknown_path_posted_to_and_a_wrong_method_are_pages_too(
    client: httpx.AsyncClient,
) -> None:
    posted = await client.post("/console/nothing-here", data={"a": "b"})
    assert_html_404(posted, "页面不存在。", "console")
    wrong = await client.delete("/portal/signin")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"].startswith("text/html")
    assert wrong.headers["content-security-policy"] == CSP
