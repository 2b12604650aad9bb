"""The staff console in Chromium: an adjudicator signs in by one-time link, finds an appeal
in the queue, checks the evidence in the browser, decides, and the buyer's portal shows
the outcome; a member answers from its inbox; keyboard order and labels.

Every request a page makes is recorded (``open_context``): each test ends by checking
that none went to a host other than the registry's, and that the browser reported no
error (a Content Security Policy violation would be one).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from refund_registry.cli.console import sign_in_url
from refund_registry.client.signing import Signer
from refund_registry.domain.wire import b64url
from tests.browser.harness import Portal
from tests.support.browser import UNLABELLED
from tests.support.factories import pseudonym

EVIDENCE = b"%PDF-1.7 unboxing video frames and courier photos, case 2026-0311"
OTHER_FILE = b"%PDF-1.7 a different file that merely looks alike"


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"console-{name}.png"), full_page=True)


@dataclass
class Case:
    shop: Signer
    adjudicator: Signer
    report_id: str
    appeal_id: str
    buyer: Page


def link_path(portal: Portal, principal_id: str) -> str:
    issued = portal.run(portal.runtime.parts.staff.issue_link(principal_id))
    parts = urlsplit(sign_in_url(portal.base_url, issued.token))
    return f"{portal.base_url}{parts.path}?{parts.query}"


def sign_in(page: Page, portal: Portal, principal_id: str) -> None:
    page.goto(link_path(portal, principal_id))
    page.click("#use-link")
    expect(page.locator("#who")).to_be_visible()


def appealed_case(portal: Portal, open_context: Any) -> Case:
    """A shop's report, appealed by the buyer in the portal (opened by the shop's hand-off)."""
    shop = portal.principal("云购商城")
    adjudicator = portal.principal("独立裁决", role="adjudicator")
    ident = {"kind": "phone", "pseudonym": pseudonym()}
    digest = b64url(hashlib.sha256(EVIDENCE).digest())
    report_id = portal.file_report(shop, [ident], evidence_digest=digest)
    token = shop.subject_token([{"kind": "phone", "value": ident["pseudonym"]}])
    buyer, _ = open_context()
    buyer.goto(f"{portal.base_url}/portal/handoff?token={token}")
    buyer.click(f"#report-{report_id} a.button")
    buyer.check("#grounds-not_me")
    buyer.fill("#statement", "这笔订单不是我下的。")
    buyer.click("#send-appeal")
    expect(buyer).to_have_url(re.compile(r"/portal/appeals/apl_[0-9a-f]+\?filed=1$"))
    appeal_id = buyer.url.rsplit("/", 1)[1].split("?")[0]
    return Case(shop, adjudicator, report_id, appeal_id, buyer)


def test_member_answers_and_adjudicator_decides_in_the_console(
    portal: Portal, open_context: Any, screenshots: Path
) -> None:
    case = appealed_case(portal, open_context)

    # The shop's staff answer from the inbox.
    member, _ = open_context()
    sign_in(member, portal, case.shop.principal_id)
    expect(member).to_have_url(re.compile(r"/console/inbox$"))
    row = member.locator(f"#row-{case.appeal_id}")
    expect(row).to_contain_text("剩余 10 天")
    shot(member, screenshots, "01-inbox")
    member.click(f"#open-{case.appeal_id}")
    expect(member.locator("#appeal-statement")).to_have_text("这笔订单不是我下的。")
    member.check("#action-uphold")
    member.click("#send-answer")  # no summary: refused, nothing sent
    expect(member.locator("#answer-error")).to_be_visible()
    member.check("#action-uphold")
    member.fill("#summary", "开箱视频显示商品完好，照片经鉴定为AI生成。")
    shot(member, screenshots, "02-answer")
    member.click("#send-answer")
    expect(member).to_have_url(re.compile(r"/console/inbox\?answered=uphold$"))
    expect(member.locator("#notice")).to_be_visible()
    expect(member.locator(f"#row-{case.appeal_id}")).to_have_count(0)

    # The adjudicator signs in with a one-time link and finds the appeal in the queue.
    page, _ = open_context()
    page.goto(link_path(portal, case.adjudicator.principal_id))
    shot(page, screenshots, "03-link")
    page.click("#use-link")
    expect(page).to_have_url(re.compile(r"/console/queue$"))
    expect(page.locator("#nav-queue")).to_have_attribute("aria-current", "page")
    expect(page.locator("#nav-inbox")).to_have_count(0)
    row = page.locator(f"#row-{case.appeal_id}")
    for text in (
        "云购商城",
        "¥1,299.00",
        "伪造或AI生成的证据（照片、视频、聊天记录）",
        "不是我本人",
    ):
        expect(row).to_contain_text(text)
    shot(page, screenshots, "04-queue")
    page.click(f"#open-{case.appeal_id}")
    expect(page.locator("#member-summary")).to_contain_text("开箱视频")
    page.wait_for_load_state("load")  # the page's scripts have run

    # Check the evidence: a non-matching file, then the matching one; nothing uploaded.
    result = page.locator("#check-result")
    page.set_input_files(
        "#evidence-file", files=[{"name": "fake.pdf", "mimeType": "application/pdf",
                                  "buffer": OTHER_FILE}]
    )  # fmt: skip
    expect(result).to_have_text("不一致：此文件不是成员平台报告的证据。")
    expect(page.locator("#evidence-check")).to_have_attribute("data-outcome", "mismatch")
    page.set_input_files(
        "#evidence-file", files=[{"name": "evidence.pdf", "mimeType": "application/pdf",
                                  "buffer": EVIDENCE}]
    )  # fmt: skip
    expect(result).to_have_text("一致：此文件就是成员平台报告的证据。")
    expect(page.locator("#evidence-check")).to_have_attribute("data-outcome", "match")
    expect(result).to_have_attribute("role", "status")
    shot(page, screenshots, "05-case-evidence")

    page.check("#outcome-overturned")
    page.fill("#rationale", "商家的证据与该买家无关，报告推翻。")
    page.click("#decide")
    expect(page).to_have_url(re.compile(r"/console/queue\?decided=overturned$"))
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator(f"#row-{case.appeal_id}")).to_have_count(0)
    shot(page, screenshots, "06-decided")

    # The buyer's portal shows the outcome.
    case.buyer.goto(f"{portal.base_url}/portal/appeals/{case.appeal_id}")
    expect(case.buyer.locator("main")).to_contain_text("裁决对您有利：报告不再产生影响")


def test_a_member_retracts_from_the_inbox_in_english(
    portal: Portal, open_context: Any, screenshots: Path
) -> None:
    case = appealed_case(portal, open_context)
    page, _ = open_context()
    sign_in(page, portal, case.shop.principal_id)
    page.click("#lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(f"#row-{case.appeal_id}")).to_contain_text("10 days left")
    shot(page, screenshots, "07-inbox-en")
    page.click(f"#open-{case.appeal_id}")
    page.check("#action-retract")
    page.click("#send-answer")
    expect(page.locator("#notice")).to_have_text(
        "Answered: you retracted the report. It no longer counts."
    )
    case.buyer.goto(f"{portal.base_url}/portal/appeals/{case.appeal_id}")
    expect(case.buyer.locator("main")).to_contain_text("报告不再产生影响")
    page.click("#signout")
    expect(page).to_have_url(re.compile(r"/console/signin\?reason=signed_out$"))
    page.goto(f"{portal.base_url}/console/inbox")
    expect(page).to_have_url(re.compile(r"/console/signin$"))


def test_keyboard_order_and_labels_on_every_console_page(
    portal: Portal, open_context: Any, screenshots: Path
) -> None:
    case = appealed_case(portal, open_context)
    page, _ = open_context()
    page.goto(f"{portal.base_url}/console/signin")
    shot(page, screenshots, "00-signin")
    sign_in(page, portal, case.adjudicator.principal_id)
    page.goto(f"{portal.base_url}/console/queue?state=all")
    order: list[str] = []
    while len(order) < 9:
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        if not order or order[-1] != focused:  # a date field has a stop per part
            order.append(focused)
    assert order == [
        "skip-link", "brand", "lang-switch", "nav-queue", "signout", "state", "due",
        "apply-filters", f"open-{case.appeal_id}",
    ]  # fmt: skip
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/console/appeals/{case.appeal_id}$"))
    pages = [
        "/console/signin",
        "/console/queue",
        f"/console/appeals/{case.appeal_id}",
    ]
    member, _ = open_context()
    sign_in(member, portal, case.shop.principal_id)
    for path in pages:
        page.goto(portal.base_url + path)
        assert page.evaluate(UNLABELLED) == [], path
    for path in ("/console/inbox", f"/console/inbox/{case.appeal_id}"):
        member.goto(portal.base_url + path)
        assert member.evaluate(UNLABELLED) == [], path
    # A role's page refused to another role says so, in a page of the console.
    member.goto(f"{portal.base_url}/console/queue")
    expect(member.locator("#error-message")).to_contain_text("您的角色无权使用此页面。")
    shot(member, screenshots, "08-forbidden")
