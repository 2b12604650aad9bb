"""The buyer portal in Chromium: sign in by code and by hand-off, read the record,
appeal, write a statement, sign out; in Chinese, in English, and with JavaScript off.

Every request a page makes is recorded, and each test ends by checking that
none went to a host other than the registry's, and that the browser reported
no error (a Content Security Policy violation would be one).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from refund_registry.client.signing import Signer
from tests.browser.harness import Inbox, Portal
from tests.support.factories import pseudonym

EMAIL = "li.wei@example.cn"

WORDS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "lang": "zh-CN",
        "code_subject": "【退款登记处】验证码 %s",
        "category_a": "伪造或AI生成的证据（照片、视频、聊天记录）",
        "category_b": "退回空包裹或调包商品",
        "amount_a": "¥1,299.00",
        "amount_b": "¥458.00",
        "purpose": "处理退款申请",
        "risk_check": "平台风险查询",
        "via_link": "您本人（通过该平台的链接查看）",
        "days_left": "剩余 9 天",
        "filed": "您的申诉已提交",
        "upheld": "已裁决：报告维持",
        "saved": "您的说明已保存。",
        "too_long": "超出 1 个字",
        "length_error": "请填写1至200个字。",
        "signed_out": "您已退出登录。",
        "form_refused": "此表单已过期，或并非来自本网站",
        "link_used": "此链接已过期或已被使用",
    },
    "en": {
        "lang": "en",
        "code_subject": "Refund Registry code %s",
        "category_a": "Forged or AI-generated evidence (photos, videos, chats)",
        "category_b": "Returned an empty box or different goods",
        "amount_a": "CN¥1,299.00",
        "amount_b": "CN¥458.00",
        "purpose": "Deciding on a refund request",
        "risk_check": "Risk check by the platform",
        "via_link": "You, through this platform's link",
        "days_left": "9 days left",
        "filed": "Your appeal was filed",
        "upheld": "Decided: the report stands",
        "saved": "Your statement was saved.",
        "too_long": "1 character too many",
        "length_error": "Write 1 to 200 characters.",
        "signed_out": "You have signed out.",
        "form_refused": "This form has expired or did not come from this site",
        "link_used": "This link has expired or was already used",
    },
}


@dataclass
class Cast:
    """A buyer reported by two platforms and checked by a third, and an adjudicator."""

    shop_a: Signer
    shop_b: Signer
    checker: Signer
    adjudicator: Signer
    ident: dict[str, str]
    report_a: str
    report_b: str


def make_cast(portal: Portal) -> Cast:
    shop_a = portal.principal("云购商城")
    shop_b = portal.principal("优选优品")
    checker = portal.principal("快捷支付")
    adjudicator = portal.principal("独立裁决", role="adjudicator")
    ident = {"kind": "email", "pseudonym": portal.pseudonym("email", EMAIL)}
    report_a = portal.file_report(shop_a, [ident])
    report_b = portal.file_report(
        shop_b,
        [ident],
        category="empty_box_or_switched_return",
        amount={"minor_units": 45_800, "currency": "CNY"},
    )
    portal.query(checker, [ident], "refund_decision")
    return Cast(shop_a, shop_b, checker, adjudicator, ident, report_a, report_b)


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(
    ("locale", "js"),
    [("zh_CN", True), ("en", True), ("zh_CN", False)],
    ids=["zh", "en", "zh-nojs"],
)
def test_buyer_journey(
    portal: Portal, inbox: Inbox, open_context: Any, screenshots: Path, locale: str, js: bool
) -> None:
    """Sign in with an e-mailed code, read the record, appeal, and answer a decision."""
    words = WORDS[locale]
    tag = locale.split("_")[0] + ("" if js else "-nojs")
    cast = make_cast(portal)
    page, _ = open_context(js=js)
    base = portal.base_url

    page.goto(f"{base}/portal/signin")
    if locale == "en":
        page.click("#lang-switch")
        expect(page).to_have_url(re.compile(r"/portal/signin$"))
    expect(page.locator("html")).to_have_attribute("lang", words["lang"])
    shot(page, screenshots, f"{tag}-01-signin")

    page.fill("#identifier", EMAIL)
    page.click("#send-code")
    expect(page).to_have_url(re.compile(r"/portal/signin/code$"))
    expect(page.locator("main")).to_contain_text("l***@example.cn")
    shot(page, screenshots, f"{tag}-02-code")
    code = inbox.code_for(EMAIL)
    page.fill("#code", code)
    # The mail speaks the language the portal was in when the code was asked for.
    raw = next(c for to, c in reversed(inbox.messages) if EMAIL in to)
    subject = email.message_from_bytes(raw, policy=email.policy.default)["Subject"]
    assert subject == words["code_subject"] % code
    page.click("#sign-in")

    expect(page).to_have_url(re.compile(r"/portal/record$"))
    main = page.locator("main")
    for text in ("云购商城", "优选优品", words["category_a"], words["category_b"]):
        expect(main).to_contain_text(text)
    expect(main).to_contain_text(words["amount_a"])
    expect(main).to_contain_text(words["amount_b"])
    shot(page, screenshots, f"{tag}-03-record")

    page.click("#nav-inquiries")
    expect(page.locator("table")).to_contain_text("快捷支付")
    expect(page.locator("table")).to_contain_text(words["purpose"])
    expect(page.locator("table")).to_contain_text(words["risk_check"])
    shot(page, screenshots, f"{tag}-04-inquiries")

    page.click("#nav-record")
    page.click(f"#report-{cast.report_a} a.button")
    expect(page).to_have_url(re.compile(r"/portal/appeals/new\?report="))
    shot(page, screenshots, f"{tag}-05-appeal-form")
    page.check("#grounds-not_me")
    page.fill("#statement", "这笔订单不是我下的，我从未在该店铺购物。")
    page.click("#send-appeal")
    expect(page).to_have_url(re.compile(r"/portal/appeals/apl_[0-9a-f]+\?filed=1$"))
    expect(page.locator("[role=status]")).to_contain_text(words["filed"])
    expect(page.locator(".countdown").first).to_have_text(words["days_left"])
    shot(page, screenshots, f"{tag}-06-appeal")
    appeal_id = page.url.rsplit("/", 1)[1].split("?")[0]

    # The shop stands by its report and an adjudicator upholds it, through the API.
    portal.call(
        cast.shop_a,
        "POST",
        f"/v1/appeals/{appeal_id}/response",
        {"action": "uphold", "summary": "开箱视频显示商品完好，照片经鉴定为AI生成。"},
    )
    portal.call(
        cast.adjudicator,
        "POST",
        f"/v1/appeals/{appeal_id}/decision",
        {"outcome": "upheld", "rationale": "商家证据充分。"},
    )
    page.click("#nav-appeals")
    expect(page.locator(f"#appeal-{appeal_id}")).to_contain_text(words["upheld"])
    shot(page, screenshots, f"{tag}-07-appeals")
    page.click(f"#appeal-{appeal_id} a")
    expect(page.locator(".timeline li")).to_have_count(5)
    shot(page, screenshots, f"{tag}-08-appeal-decided")

    page.click("#nav-statement")
    too_long = "好" * 201
    page.fill("#statement", too_long)
    if js:  # counted live by the server through htmx, before anything is sent
        expect(page.locator("#statement-count")).to_contain_text(words["too_long"])
    page.click("#save-statement")
    expect(page.locator("#statement-error")).to_have_text(re.compile(words["length_error"]))
    expect(page.locator("#statement-count")).to_contain_text(words["too_long"])
    expect(page.locator("#statement")).to_have_attribute("aria-invalid", "true")
    shot(page, screenshots, f"{tag}-09-statement-error")
    statement = "我对裁决有异议，已向平台提交新的证据。"
    page.fill("#statement", statement)
    page.click("#save-statement")
    expect(page.locator("[role=status]")).to_have_text(words["saved"])
    expect(page.locator("#statement")).to_have_value(statement)
    shot(page, screenshots, f"{tag}-10-statement")

    page.click("#nav-record")
    expect(page.locator("main")).to_contain_text(statement)
    page.click("#signout")
    expect(page).to_have_url(re.compile(r"/portal/signin\?reason=signed_out$"))
    expect(page.locator("[role=status]")).to_have_text(words["signed_out"])
    page.goto(f"{base}/portal/record")
    expect(page).to_have_url(re.compile(r"/portal/signin"))


def test_handoff_link_opens_the_portal_signed_in(
    portal: Portal, open_context: Any, screenshots: Path
) -> None:
    shop = portal.principal("云购商城")
    ident = {"kind": "phone", "pseudonym": pseudonym()}
    portal.file_report(shop, [ident])
    token = shop.subject_token([{"kind": "phone", "value": ident["pseudonym"]}])
    page, _ = open_context()
    answers: list[Any] = []
    page.on("response", lambda r: answers.append(r) if "/portal/handoff" in r.url else None)

    page.goto(f"{portal.base_url}/portal/handoff?token={token}")
    expect(page).to_have_url(re.compile(r"/portal/record$"))
    expect(page.locator("main")).to_contain_text("云购商城")
    (handoff,) = answers
    assert handoff.status == 303
    assert handoff.headers["referrer-policy"] == "no-referrer"
    assert "token" not in page.url
    page.click("#nav-inquiries")
    expect(page.locator("table")).to_contain_text(WORDS["zh_CN"]["via_link"])
    shot(page, screenshots, "zh-11-handoff-inquiries")

    # Single use: the same link again opens nothing.
    fresh, _ = open_context()
    fresh.goto(f"{portal.base_url}/portal/handoff?token={token}")
    expect(fresh.locator("[role=alert]")).to_contain_text(WORDS["zh_CN"]["link_used"])
    expect(fresh.locator("#nav-record")).to_have_count(0)
    shot(fresh, screenshots, "zh-12-handoff-used")


def test_a_form_without_its_token_is_refused(
    portal: Portal, inbox: Inbox, open_context: Any, screenshots: Path
) -> None:
    page, _ = open_context()
    page.goto(f"{portal.base_url}/portal/signin")
    request = page.context.request
    for form in ({"identifier": EMAIL}, {"identifier": EMAIL, "csrf_token": "forged"}):
        refused = request.post(f"{portal.base_url}/portal/signin", form=form)
        assert refused.status == 403
        assert WORDS["zh_CN"]["form_refused"] in refused.text()
    # The same through the page itself, with the token taken out of the form.
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.fill("#identifier", EMAIL)
    page.click("#send-code")
    expect(page.locator("[role=alert]")).to_contain_text(WORDS["zh_CN"]["form_refused"])
    shot(page, screenshots, "zh-13-form-refused")
    assert inbox.messages == [], "a refused form must not send a code"


def test_keyboard_reaches_the_controls_in_order(portal: Portal, open_context: Any) -> None:
    page, _ = open_context()
    page.goto(f"{portal.base_url}/portal/signin")

    def tab_order(count: int) -> list[str]:
        seen = []
        for _ in range(count):
            page.keyboard.press("Tab")
            seen.append(
                page.evaluate(
                    "(() => { const e = document.activeElement;"
                    " return e.id || e.className || e.tagName; })()"
                )
            )
        return seen

    assert tab_order(5) == ["skip-link", "brand", "lang-switch", "identifier", "send-code"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # the skip link moves focus to the main content
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "identifier"


def test_keyboard_order_when_signed_in(portal: Portal, open_context: Any) -> None:
    shop = portal.principal("云购商城")
    ident = {"kind": "phone", "pseudonym": pseudonym()}
    report = portal.file_report(shop, [ident])
    token = shop.subject_token([{"kind": "phone", "value": ident["pseudonym"]}])
    page, _ = open_context()
    page.goto(f"{portal.base_url}/portal/handoff?token={token}")
    expect(page).to_have_url(re.compile(r"/portal/record$"))
    order = []
    for _ in range(9):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.href"))
    assert order[0] == "skip-link"
    assert order[2:8] == [
        "lang-switch",
        "nav-record",
        "nav-inquiries",
        "nav-appeals",
        "nav-statement",
        "signout",
    ]
    assert order[8].endswith(f"/portal/appeals/new?report={report}")
