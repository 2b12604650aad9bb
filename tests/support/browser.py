"""What every browser test checks: no request leaves the registry, no browser error."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page


class Watch:
    """Every request and browser error of a context, checked at the end of a test."""

    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.host = urlsplit(base_url).netloc
        self.requests: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("weberror", lambda error: self.errors.append(str(error.error)))

    def attach(self, page: Page) -> None:
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )

    def check(self) -> None:
        assert self.requests, "no request was recorded"
        elsewhere = [u for u in self.requests if urlsplit(u).netloc != self.host]
        assert elsewhere == [], f"requests left the registry: {elsewhere}"
        # A refused form is answered 403 on purpose; Chromium logs any 4xx.
        unexpected = [e for e in self.errors if "status of 4" not in e]
        assert unexpected == [], unexpected


UNLABELLED = """
[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(e => e.tagName === 'BUTTON' ? !e.textContent.trim()
                                      : !(e.labels && e.labels.length))
  .map(e => e.id || e.name || e.tagName)
"""
"""A script listing the form controls of a page that have no label (buttons: no text)."""
