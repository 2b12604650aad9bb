"""The auditor's console in Debian's Chromium: the log, a flagged sweep, verification, roles.

The registry is served by ``tests/browser/harness.py``; staff sign in with a
one-time link as ``refund-registry console link`` prints it. Every request the
browser makes is recorded, and none may leave the registry's own origin. The
screenshots land in ``tests/browser/screenshots/`` for ``docs/console.md``.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import Portal
from tests.support.console import console_link
from tests.support.factories import access_record
from tests.support.sequencing import sequence_all

SWEEPER = "mem_sweeper"
CALM = "mem_calm"


def signed_in(chromium: Browser, portal: Portal, role: str) -> tuple[Page, list[str]]:
    """A page signed in to the console as a new principal of ``role``, and its request log."""
    signer = portal.principal(f"{role} at the registry", role)
    requests: list[str] = []
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: requests.append(r.url))
    link = portal.run(console_link(portal.runtime, signer.principal_id))
    page.goto(portal.base_url + link)
    page.click("#use-link")
    page.wait_for_load_state()
    return page, requests


def only_own_origin(portal: Portal, requests: list[str]) -> None:
    own = urlsplit(portal.base_url).netloc
    foreign = [u for u in requests if urlsplit(u).scheme != "data" and urlsplit(u).netloc != own]
    assert requests
    assert foreign == []


def seed(portal: Portal) -> None:
    """A sweep (120 subjects, each looked up once) and a calm member, all in a checkpoint."""
    rt = portal.runtime
    portal.run(rt.access_log.append_many([access_record(SWEEPER) for _ in range(120)]))
    portal.run(rt.access_log.append_many([access_record(CALM) for _ in range(4)]))
    assert rt.registry is not None
    portal.run(sequence_all(rt.pool, rt.registry.log_key))


async def _alter(owner_url: str, index: int) -> None:
    """What an operator with full control of the database could do: rewrite one stored entry."""
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute("SET session_replication_role = replica")  # skips the guard triggers
        row = await conn.fetchrow(
            "SELECT a.id, a.entry FROM log_leaves l JOIN access_log a ON a.id = l.entry_id"
            " WHERE l.idx = $1",
            index,
        )
        forged = row["entry"].replace(b'"refund_decision"', b'"account_review"')
        assert forged != row["entry"]
        await conn.execute("UPDATE access_log SET entry = $2 WHERE id = $1", row["id"], forged)
    finally:
        await conn.close()


def run_verification(page: Page) -> str:
    page.wait_for_load_state("load")  # the verifier's script has run and listens
    page.click("#run-verify")
    page.wait_for_selector("#verify-verdict[data-result]", timeout=60_000)
    return page.inner_text("#verify-verdict")


def test_an_auditor_filters_sees_a_sweep_and_verifies_the_log(
    portal: Portal, chromium: Browser, screenshots: Path
) -> None:
    seed(portal)
    page, requests = signed_in(chromium, portal, "auditor")
    page.goto(portal.base_url + "/console/lang/en?next=/console/audit")
    expect(page).to_have_url(portal.base_url + "/console/audit")
    expect(page.locator("tr.entry")).to_have_count(50)
    page.screenshot(path=str(screenshots / "console-audit-log.png"), full_page=False)
    page.click("#next-page")  # keyset paging: the page after index 49
    expect(page.locator("tr.entry").first).to_have_attribute("data-index", "50")
    expect(page.locator("tr.entry")).to_have_count(50)
    page.click("#first-page")
    expect(page.locator("tr.entry").first).to_have_attribute("data-index", "0")

    # Filter by member: only the calm member's four queries.
    page.fill("#f-member", CALM)
    page.click("#apply-filters")
    rows = page.locator("tr.entry")
    expect(rows).to_have_count(4)
    assert set(page.locator("tr.entry td.actor").all_inner_texts()) == {f"{CALM} member"}
    assert "member=mem_calm" in (page.get_attribute("#csv-export", "href") or "")

    # The sweep is flagged on today's bar of the sweeper's chart, and only there.
    page.click("#audit-nav-members")
    sweeper = page.locator(f'section.member-chart[data-member="{SWEEPER}"]')
    expect(sweeper.locator("svg .flag")).to_have_count(1)
    expect(sweeper.locator('.flag-item[data-code="subject_sweep"]')).to_have_count(1)
    calm = page.locator(f'section.member-chart[data-member="{CALM}"]')
    expect(calm.locator("svg .flag")).to_have_count(0)
    assert "<title" in sweeper.locator("svg").first.inner_html()
    page.screenshot(path=str(screenshots / "console-audit-members.png"), full_page=True)

    page.click("#audit-nav-checkpoints")
    expect(page.locator("#merge-delay")).to_have_attribute("data-kept", "yes")
    expect(page.locator("#checkpoint-table tbody tr")).to_have_count(1)
    page.screenshot(path=str(screenshots / "console-audit-checkpoints.png"), full_page=True)

    page.click("#audit-nav-verify")
    verdict = run_verification(page)
    assert verdict == "VERIFIED: all 124 entries match the signed checkpoint"
    expect(page.locator("#verify-verdict")).to_have_attribute("data-result", "verified")
    page.screenshot(path=str(screenshots / "console-audit-verified.png"), full_page=True)

    # A superuser rewrites entry 77; the browser names it, from the bytes alone.
    portal.run(_alter(portal.settings.owner_database_url or "", 77))
    verdict = run_verification(page)
    assert verdict == "FAILED: the first wrong entry is index 77"
    expect(page.locator("#verify-verdict")).to_have_attribute("data-index", "77")
    page.screenshot(path=str(screenshots / "console-audit-tampered.png"), full_page=True)

    only_own_origin(portal, requests)


def test_the_csv_export_holds_the_filtered_entries_and_defuses_formulas(
    portal: Portal, chromium: Browser
) -> None:
    seed(portal)
    from msgspec.structs import replace

    rt = portal.runtime
    sly = replace(access_record(CALM), purpose='=HYPERLINK("http://example.invalid")')
    portal.run(rt.access_log.append_many([sly]))
    assert rt.registry is not None
    portal.run(sequence_all(rt.pool, rt.registry.log_key))
    page, requests = signed_in(chromium, portal, "auditor")
    page.goto(portal.base_url + "/console/audit?member=" + CALM)
    with page.expect_download() as info:
        page.click("#csv-export")
    download = info.value
    assert download.suggested_filename == "access-log_member-mem_calm.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 5
    assert {r["actor"] for r in rows} == {CALM}
    assert rows[-1]["purpose"] == '\'=HYPERLINK("http://example.invalid")'
    # A hash that begins with "-" is quoted like any cell a spreadsheet would run.
    assert all(len(r["leaf_hash"].removeprefix("'")) == 43 for r in rows)
    only_own_origin(portal, requests)


@pytest.mark.parametrize("role", ["adjudicator", "member"])
def test_other_roles_are_refused_every_audit_page(
    portal: Portal, chromium: Browser, role: str
) -> None:
    page, _ = signed_in(chromium, portal, role)
    paths = [
        "/console/audit",
        "/console/audit/members",
        "/console/audit/checkpoints",
        "/console/audit/witnesses",
        "/console/audit/verify",
        "/console/audit/export.csv",
        "/console/audit/data/checkpoint",
        "/console/audit/data/entries",
        "/console/audit/data/consistency?first=0&second=0",
    ]
    for path in paths:
        response = page.request.get(portal.base_url + path)
        assert response.status == 403, (path, response.status)
        assert "access-log" not in response.headers.get("content-disposition", "")


def test_without_a_session_the_audit_pages_send_to_sign_in(portal: Portal) -> None:
    for path in ["/console/audit", "/console/audit/data/entries", "/console/audit/export.csv"]:
        response = portal.http.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/signin")


def test_a_bad_filter_is_shown_on_the_form(portal: Portal, chromium: Browser) -> None:
    page, _ = signed_in(chromium, portal, "auditor")
    page.goto(portal.base_url + "/console/lang/en?next=/console/audit")
    response: Any = page.goto(
        portal.base_url + "/console/audit?since=2026-03-02T00:00&until=2026-03-01T00:00"
    )
    assert response.status == 422
    expect(page.locator("#filter-error")).to_contain_text("must be before its end")
    expect(page.locator("#f-since")).to_have_value("2026-03-02T00:00")


def test_without_witnesses_the_page_says_checkpoints_are_the_registrys_word_alone(
    portal: Portal, chromium: Browser
) -> None:
    seed(portal)
    page, requests = signed_in(chromium, portal, "auditor")
    page.goto(portal.base_url + "/console/lang/en?next=/console/audit/witnesses")
    expect(page).to_have_url(portal.base_url + "/console/audit/witnesses")
    policy = page.locator("#witness-policy")
    expect(policy).to_have_attribute("data-count", "0")
    expect(policy).to_contain_text("No witnesses are configured")
    expect(page.locator("#latest-checkpoint")).to_have_attribute("data-size", "124")
    expect(page.locator("#witness-table")).to_have_count(0)
    expect(page.locator("#latest-witnessed")).to_have_count(0)
    only_own_origin(portal, requests)


def test_the_footer_names_the_time_zone_each_section_shows(
    portal: Portal, chromium: Browser
) -> None:
    seed(portal)
    auditor, _ = signed_in(chromium, portal, "auditor")
    auditor.goto(portal.base_url + "/console/lang/en?next=/console/audit/checkpoints")
    footer = auditor.locator("#time-zone")
    expect(footer).to_contain_text("Times on this page are UTC")
    # The times the page shows say so too, and are the checkpoint's UTC time.
    signed_at = auditor.locator("#checkpoint-table tbody tr td").nth(1).inner_text()
    stored = portal.run(portal.runtime.pool.fetchval("SELECT max(at) FROM checkpoints"))
    assert signed_at == stored.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    expect(auditor.locator("#checkpoint-table thead")).to_contain_text("Signed at (UTC)")
    for path in ["/console/audit", "/console/audit/members", "/console/audit/verify"]:
        auditor.goto(portal.base_url + path)
        expect(auditor.locator("#time-zone")).to_contain_text("Times on this page are UTC")
    adjudicator, _ = signed_in(chromium, portal, "adjudicator")
    adjudicator.goto(portal.base_url + "/console/lang/en?next=/console/queue")
    expect(adjudicator.locator("#time-zone")).to_contain_text(
        "Times on this page are China Standard Time (Beijing, UTC+8)"
    )
