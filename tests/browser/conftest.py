"""Fixtures of the browser tests: Debian's Chromium, a real SMTP server, the served portal.

Chromium is the system's (``/usr/bin/chromium``); nothing is downloaded.
Each test gets its own database clone (``settings`` of ``tests/conftest.py``),
its own registry server, its own SMTP server and its own browser.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from refund_registry.config import Settings
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, Inbox, Portal, start_portal
from tests.support.browser import Watch
from tests.support.waiting import free_port

SCREENSHOTS = Path(__file__).parent / "screenshots"

# How long an ``expect`` waits for the page to reach the state it asserts (the
# assertion still fails if the state never comes): generous, because a busy
# two-core machine can take seconds to hash a file or render a page.
expect.set_options(timeout=15_000)


@pytest.fixture
def chromium(portal: Portal) -> Iterator[Browser]:
    """Debian's Chromium, driven by the sync Playwright API, for one test.

    Started after the test's database and server, and stopped before them:
    while the sync API is started, the main thread counts as running an event
    loop, and the asynchronous fixtures of ``tests/conftest.py`` cannot run
    their teardown (or any other test its setup) until it stops.
    """
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is not installed (.ci/run installs it: apt-get install chromium)")
    assert portal is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def portal(settings: Settings, inbox: Inbox) -> Iterator[Portal]:
    """The registry on a free local port; codes for e-mail go to ``inbox`` over SMTP."""
    served = start_portal(settings.with_overrides(smtp_url=f"smtp://127.0.0.1:{inbox.port}"))
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def open_context(chromium: Browser, portal: Portal) -> Iterator[Any]:
    """``open_context(js=True)``: a fresh context and page, watched; closed after the test."""
    opened: list[tuple[BrowserContext, Watch]] = []

    def open_one(js: bool = True) -> tuple[Page, Watch]:
        context = chromium.new_context(
            viewport={"width": 1100, "height": 900}, java_script_enabled=js
        )
        context.set_default_timeout(10_000)
        watch = Watch(context, portal.base_url)
        page = context.new_page()
        watch.attach(page)
        opened.append((context, watch))
        return page, watch

    yield open_one
    for context, watch in opened:
        context.close()
        watch.check()
