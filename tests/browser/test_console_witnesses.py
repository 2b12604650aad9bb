"""The auditor's witness page in Debian's Chromium, with two real witness processes.

The registry is served by ``tests/browser/harness.py`` with a policy of 2 of 2;
the witness collector (a round at a time, in the server's loop, as its
background task runs it) submits each checkpoint to both witnesses, which run
as ``refund-registry witness serve`` processes on 127.0.0.1. One witness is
then stopped: the page shows it falling behind and the latest witnessed
checkpoint staying where both last cosigned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from refund_registry.config import Settings
from refund_registry.domain.checkpoint import verifier_key_string
from refund_registry.domain.witnessing import parse_witness
from refund_registry.services.sequencer import DEFAULT_ORIGIN
from refund_registry.services.witnessing import Collector
from refund_registry.storage import keyfiles
from tests.browser.harness import Inbox, Portal, start_portal
from tests.support.console import console_link
from tests.support.factories import access_record
from tests.support.sequencing import sequence_all
from tests.support.witnesses import WitnessProcess, init_witness

NAMES = ("witness1.member.example", "witness2.member.example")


@pytest.fixture
def witnesses(settings: Settings, tmp_path: Path) -> Iterator[list[WitnessProcess]]:
    """Two witnesses that know the registry's log key (made here, before the server reads it)."""
    log_key = keyfiles.ensure_ed25519(settings.key_path("log"), generate=True)
    log_vkey = verifier_key_string(DEFAULT_ORIGIN, log_key.public_key())
    started = [init_witness(tmp_path / f"w{i}", name, log_vkey) for i, name in enumerate(NAMES)]
    try:
        for witness in started:
            witness.start()
        yield started
    finally:
        for witness in started:
            witness.stop()


@pytest.fixture
def portal(settings: Settings, inbox: Inbox, witnesses: list[WitnessProcess]) -> Iterator[Portal]:
    """The registry configured with both witnesses and a policy of 2 of 2."""
    configured = tuple(parse_witness(f"{w.url} {w.key}") for w in witnesses)
    served = start_portal(
        settings.with_overrides(
            smtp_url=f"smtp://127.0.0.1:{inbox.port}", witnesses=configured, witness_quorum=2
        )
    )
    try:
        yield served
    finally:
        served.stop()


def grow(portal: Portal, count: int) -> int:
    """``count`` more entries and a checkpoint over them; the checkpoint's size."""
    rt = portal.runtime
    portal.run(rt.access_log.append_many([access_record("mem_witnessed") for _ in range(count)]))
    assert rt.registry is not None
    portal.run(sequence_all(rt.pool, rt.registry.log_key))
    size: int = portal.run(rt.pool.fetchval("SELECT max(size) FROM checkpoints"))
    return size


def collect(portal: Portal) -> dict[str, str]:
    """One round of the witness collector, as the server's background task runs it."""
    rt = portal.runtime
    collector = Collector(rt.pool, rt.settings.witnesses)
    outcomes: dict[str, str] = portal.run(collector.collect_once())
    return outcomes


def signed_in_auditor(chromium: Browser, portal: Portal) -> tuple[Page, list[str]]:
    signer = portal.principal("auditor at the registry", "auditor")
    requests: list[str] = []
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: requests.append(r.url))
    page.goto(portal.base_url + portal.run(console_link(portal.runtime, signer.principal_id)))
    page.click("#use-link")
    page.wait_for_load_state()
    return page, requests


def test_an_auditor_sees_the_policy_each_witness_and_the_latest_witnessed_checkpoint(
    portal: Portal, chromium: Browser, screenshots: Path, witnesses: list[WitnessProcess]
) -> None:
    first = grow(portal, 12)
    assert collect(portal) == dict.fromkeys(NAMES, "cosigned")
    page, requests = signed_in_auditor(chromium, portal)
    page.goto(portal.base_url + "/console/lang/en?next=/console/audit/witnesses")
    expect(page).to_have_url(portal.base_url + "/console/audit/witnesses")

    policy = page.locator("#witness-policy")
    expect(policy).to_have_attribute("data-quorum", "2")
    expect(policy).to_have_attribute("data-count", "2")
    expect(policy).to_contain_text("when 2 of the 2 configured witnesses have cosigned it")
    rows = page.locator("tr.witness")
    expect(rows).to_have_count(2)
    for witness, name in zip(witnesses, NAMES, strict=True):
        row = page.locator(f'tr.witness[data-name="{name}"]')
        expect(row).to_have_attribute("data-cosigned", str(first))
        expect(row).to_have_attribute("data-behind", "0")
        expect(row.locator("td.behind")).to_have_text("up to date")
        expect(row.locator("code.key")).to_have_text(witness.key)
        expect(row.locator("td.last")).to_contain_text("UTC")
    witnessed = page.locator("#latest-witnessed")
    expect(witnessed).to_have_attribute("data-size", str(first))
    expect(witnessed).to_contain_text(f"{first} entries")
    expect(witnessed).to_contain_text("with 2 cosignatures")
    note = page.locator("#witnessed-note").inner_text()
    assert note.count("\u2014 witness") == 2  # the cosignature lines under the log's signature
    expect(page.locator("#time-zone")).to_contain_text("Times on this page are UTC")
    page.screenshot(path=str(screenshots / "console-audit-witnesses.png"), full_page=True)

    # One witness goes away; the other cosigns the next checkpoint alone.
    witnesses[1].stop()
    second = grow(portal, 5)
    outcomes = collect(portal)
    assert outcomes[NAMES[0]] == "cosigned"
    assert outcomes[NAMES[1]].startswith("failed")
    page.reload()
    expect(page.locator(f'tr.witness[data-name="{NAMES[0]}"]')).to_have_attribute(
        "data-behind", "0"
    )
    behind = page.locator(f'tr.witness[data-name="{NAMES[1]}"]')
    expect(behind).to_have_attribute("data-cosigned", str(first))
    expect(behind).to_have_attribute("data-behind", str(second - first))
    expect(behind.locator("td.behind")).to_have_text(f"{second - first} entries")
    expect(witnessed).to_have_attribute("data-size", str(first))
    expect(witnessed).to_contain_text(
        f"The latest checkpoint is not witnessed yet: {second - first} entries are newer"
    )
    expect(page.locator("#latest-checkpoint")).to_have_attribute("data-size", str(second))

    # In Chinese, from the same data.
    page.goto(portal.base_url + "/console/lang/zh_CN?next=/console/audit/witnesses")
    expect(page.locator("h1")).to_have_text("见证方")
    expect(behind.locator("td.behind")).to_have_text(f"{second - first} 个条目")

    own = urlsplit(portal.base_url).netloc
    assert requests
    assert [u for u in requests if urlsplit(u).netloc != own and not u.startswith("data:")] == []
