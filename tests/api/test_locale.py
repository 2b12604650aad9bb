"""Answers in the caller's language: Chinese first, English on request, machine fields unchanged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import Litestar

from refund_registry.client import AsyncRegistryClient, RegistryApiError
from refund_registry.config import Settings
from refund_registry.domain.scoring.reasons import REASON_TEXT
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.factories import ident, pseudonym, report_body
from tests.support.principals import MakePrincipal

HAN = range(0x4E00, 0xA000)


def chinese(text: str) -> bool:
    return any(ord(c) in HAN for c in text)


def machine(answer: dict[str, Any]) -> dict[str, Any]:
    """Everything of a risk answer but its texts (and the per-query id and receipt)."""
    kept = {k: v for k, v in answer.items() if k not in {"notice", "query_id", "receipt"}}
    kept["reasons"] = [r["code"] for r in answer["reasons"]]
    return kept


async def test_the_same_query_in_chinese_and_english(
    api: Api, make_principal: MakePrincipal
) -> None:
    a, b = await make_principal(), await make_principal()
    buyer = ident(pseudonym())
    for member in (a, b):
        await api.call(member, "POST", "/v1/reports", report_body(identifiers=[buyer]))
    body = {"identifiers": [buyer], "purpose": "refund_decision"}
    answers = {}
    for language in ("zh-CN", "en"):
        sent = {"Accept-Language": language}
        response = await api.call(a, "POST", "/v1/risk/query", body, headers=sent)
        assert response.status_code == 200, response.text
        assert response.headers["content-language"] == language
        answers[language] = response.json()
    zh, en = answers["zh-CN"], answers["en"]
    assert machine(zh) == machine(en)
    assert zh["band"] != "none"
    assert zh["reasons"]
    for zh_reason, en_reason in zip(zh["reasons"], en["reasons"], strict=True):
        assert en_reason["text"] == REASON_TEXT[en_reason["code"]]
        assert zh_reason["text"] != en_reason["text"]
        assert chinese(zh_reason["text"])
    assert chinese(zh["notice"])
    assert "contest" in en["notice"]
    assert zh["notice"] != en["notice"]
    # The portal address is named in both.
    assert "/portal" in zh["notice"]
    assert "/portal" in en["notice"]


async def test_batch_answers_speak_the_negotiated_language(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    buyer = ident(pseudonym())
    await api.call(member, "POST", "/v1/reports", report_body(identifiers=[buyer]))
    queries = [{"identifiers": [buyer], "purpose": "refund_decision"}]
    sent = {"Accept-Language": "fr-CH, en;q=0.8, zh;q=0.5"}
    response = await api.call(
        member, "POST", "/v1/risk/query/batch", {"queries": queries}, headers=sent
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-language"] == "en"
    (answer,) = response.json()["results"]
    assert all(r["text"] == REASON_TEXT[r["code"]] for r in answer["reasons"])


async def test_unsupported_or_missing_language_falls_back_to_chinese(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    body = {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}
    for sent in ({"Accept-Language": "fr, de;q=0.5"}, {}, {"Accept-Language": "en;q=0"}):
        response = await api.call(member, "POST", "/v1/risk/query", body, headers=sent)
        assert response.status_code == 200
        assert response.headers["content-language"] == "zh-CN"
        assert chinese(response.json()["notice"])


async def test_problem_documents_in_each_language(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    bad = {"identifiers": [ident(pseudonym())], "purpose": "curiosity"}
    docs = {}
    for language in ("zh-CN", "en"):
        sent = {"Accept-Language": language}
        response = await api.call(member, "POST", "/v1/risk/query", bad, headers=sent)
        docs[language] = assert_problem(response, 422, "query.purpose")
        assert response.headers["content-language"] == language
    zh, en = docs["zh-CN"], docs["en"]
    assert (en["title"], zh["title"]) == ("Invalid request", "无效的请求")
    assert en["detail"].startswith("purpose: state a purpose, one of ")
    # The field name and the listed values stay as they are; the sentence is Chinese.
    assert zh["detail"].startswith("purpose：请说明用途")
    assert "refund_decision" in zh["detail"]
    assert without_texts(zh) == without_texts(en)
    (zh_violation,) = zh["violations"]
    assert zh_violation["detail"] == zh["detail"].partition("：")[2]
    assert chinese(zh_violation["detail"])


def without_texts(doc: dict[str, Any]) -> dict[str, Any]:
    """A problem document without its human texts (title, detail, each violation's detail)."""
    kept = {k: v for k, v in doc.items() if k not in {"title", "detail"}}
    if "violations" in kept:
        kept["violations"] = [
            {k: v for k, v in x.items() if k != "detail"} for x in doc["violations"]
        ]
    return kept


async def test_details_built_from_values_keep_the_values(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    docs = {}
    for language in ("zh-CN", "en"):
        sent = {"Accept-Language": language}
        response = await api.call(member, "GET", "/v1/reports/rpt_nosuchreport", headers=sent)
        docs[language] = assert_problem(response, 404)
    zh, en = docs["zh-CN"], docs["en"]
    assert en["detail"] == "no report 'rpt_nosuchreport'"
    assert zh["detail"] == "没有报告 'rpt_nosuchreport'"
    assert without_texts(zh) == without_texts(en)


async def test_framework_refusals_and_unsigned_calls_are_translated(api: Api) -> None:
    client = api.client
    missing = await client.get("/v1/no-such-route")
    doc = assert_problem(missing, 404, "route.not_found")
    assert missing.headers["content-language"] == "zh-CN"
    assert doc["title"] == "未找到"
    english = await client.get("/v1/no-such-route", headers={"Accept-Language": "en-GB"})
    assert assert_problem(english, 404, "route.not_found")["title"] == "Not found"
    assert english.headers["content-language"] == "en"
    unsigned = await client.post("/v1/risk/query", json={}, headers={"Accept-Language": "zh"})
    doc = assert_problem(unsigned, 401)
    assert unsigned.headers["content-language"] == "zh-CN"
    assert chinese(doc["title"])


async def test_json_answers_carry_content_language_and_the_portal_does_not(api: Api) -> None:
    live = await api.client.get("/health/live", headers={"Accept-Language": "en"})
    assert live.headers["content-language"] == "en"
    assert "accept-language" in varies(live)
    page = await api.client.get("/portal/signin", headers={"Accept-Language": "en"})
    assert "content-language" not in page.headers
    assert "accept-language" not in varies(page)


def varies(response: httpx.Response) -> list[str]:
    """The fields a response's ``Vary`` names, lower case."""
    return [t.strip().lower() for t in response.headers.get("vary", "").split(",") if t.strip()]


async def test_caches_are_told_the_language_was_negotiated(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    body = {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}
    bad = {**body, "purpose": "curiosity"}
    for language in ("zh-CN", "en"):
        sent = {"Accept-Language": language}
        answers = [
            await api.call(member, "POST", "/v1/risk/query", body, headers=sent),
            await api.call(member, "POST", "/v1/risk/query", bad, headers=sent),
            await api.client.get("/v1/no-such-route", headers=sent),
            await api.call(member, "GET", "/v1/events", headers=sent),
        ]
        for response in answers:
            assert response.headers["content-language"] == language, response.request.url
            assert varies(response).count("accept-language") == 1, response.request.url


async def test_the_sdk_sends_its_locale_and_reads_the_answer_language(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    app: Litestar = create_app(settings, runtime_override=runtime)
    member = await make_principal()
    buyer = ident(pseudonym())
    transport = httpx.ASGITransport(app=app)
    async with AsyncRegistryClient(
        "http://registry", member, transport=transport, locale="en"
    ) as english:
        await english.file_report(report_body(identifiers=[buyer]))
        answer = await english.query([buyer], "refund_decision")
        assert answer.content_language == "en"
        assert all(r.text == REASON_TEXT[r.code] for r in answer.reasons)
        batch = await english.query_batch([([buyer], "refund_decision")])
        assert batch.content_language == "en"
        page = await english.events()
        assert page.content_language == "en"
        assert page.events[0].description.startswith("Report rpt_")
        with pytest.raises(RegistryApiError) as refused:
            await english.query([buyer], "curiosity")
        assert (refused.value.code, refused.value.content_language) == ("query.purpose", "en")
        assert refused.value.problem["title"] == "Invalid request"
    async with AsyncRegistryClient("http://registry", member, transport=transport) as default:
        answer = await default.query([buyer], "refund_decision")
        assert answer.content_language == "zh-CN"
        assert chinese(answer.notice)


async def test_the_feed_describes_events_in_the_negotiated_language(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    filed = await api.call(
        member, "POST", "/v1/reports", report_body(identifiers=[ident(pseudonym())])
    )
    report_id = filed.json()["report_id"]
    pages = {}
    for language in ("zh-CN", "en"):
        sent = {"Accept-Language": language}
        response = await api.call(member, "GET", "/v1/events", headers=sent)
        assert response.headers["content-language"] == language
        pages[language] = response.json()["events"]
    (zh,), (en,) = pages["zh-CN"], pages["en"]
    assert {k: v for k, v in zh.items() if k != "description"} == {
        k: v for k, v in en.items() if k != "description"
    }
    assert en["description"].startswith(f"Report {report_id} was filed")
    assert zh["description"].startswith(f"报告 {report_id} 已提交")


async def test_every_kind_of_refusal_has_a_chinese_detail(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    zh = {"Accept-Language": "zh-CN"}
    body = {"identifiers": [ident(pseudonym())], "purpose": "refund_decision"}
    refusals = [
        await api.client.get("/v1/nowhere", headers=zh),
        await api.client.delete("/health/live", headers=zh),
        await api.call(member, "GET", "/v1/whoami", raw=b"{" + b" " * (2 << 20) + b"}", headers=zh),
        await api.call(member, "POST", "/v1/risk/query", raw=b"{not json", headers=zh),
        await api.call(member, "POST", "/v1/risk/query", {**body, "extra": 1}, headers=zh),
        await api.call(member, "GET", "/v1/events?limit=0", headers=zh),
        await api.call(member, "GET", "/v1/events?after=nope", headers=zh),
        await api.call(member, "GET", "/v1/reports/rpt_x", headers=zh),
        await api.client.post("/v1/risk/query", json=body, headers=zh),
        await api.call(member, "POST", "/v1/risk/query/batch", {"queries": []}, headers=zh),
    ]
    for response in refusals:
        doc = response.json()
        assert response.status_code >= 400, doc
        assert response.headers["content-language"] == "zh-CN"
        assert chinese(doc["title"]), doc
        assert chinese(doc["detail"]), doc
