"""Signing staff in to the console over HTTP, as a browser would (cookies, form tokens)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

    from refund_registry.runtime import Runtime

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html: str) -> str:
    """The form token a console or portal page put in its forms."""
    found = _TOKEN.search(html)
    assert found is not None, "the page has no form"
    return found.group(1)


async def console_link(runtime: Runtime, principal_id: str) -> str:
    """A one-time sign-in link's path and query, as ``console link`` prints it."""
    from refund_registry.cli.console import sign_in_url

    issued = await runtime.parts.staff.issue_link(principal_id)
    parts = urlsplit(sign_in_url("http://registry", issued.token))
    return f"{parts.path}?{parts.query}"


async def sign_in(client: httpx.AsyncClient, runtime: Runtime, principal_id: str) -> str:
    """Open a console session in ``client``'s cookie jar; return the page it lands on."""
    link = await console_link(runtime, principal_id)
    confirm = await client.get(link)
    assert confirm.status_code == 200, confirm.text
    token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert token is not None
    done = await client.post(
        "/console/signin", data={"csrf_token": form_token(confirm.text), "token": token.group(1)}
    )
    assert done.status_code == 303, done.text
    home = await client.get("/console/")
    assert home.status_code in (200, 303), home.text
    return home.headers.get("location", "/console/")
