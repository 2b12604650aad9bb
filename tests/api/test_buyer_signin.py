"""Buyer sign-in over HTTP: one-time codes, hand-offs, sessions, and every refusal.

The key service runs in process (the portal principal derives pseudonyms from
it); codes are read from the zero-setup outbox, or from a real SMTP server.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from aiosmtpd.controller import Controller

from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.delivery import outbox
from refund_registry.domain import identity
from refund_registry.domain.audit_summary import SummaryPolicy
from refund_registry.domain.wire import b64url
from refund_registry.runtime import OUTBOX_FILE, Runtime, code_channels
from refund_registry.services.audit import day_summary
from refund_registry.storage.ratelimit import Limits
from tests.support.api import Api, assert_problem
from tests.support.appeals import appeal, file_report, risk
from tests.support.buyers import (
    attach_keyservice,
    exchange,
    hand_off,
    session_headers,
    subject_token,
)
from tests.support.factories import ident, pseudonym
from tests.support.principals import MakePrincipal
from tests.support.waiting import free_port

PHONE = "138 1234 5678"
OTHER_PHONE = "139 8765 4321"
EMAIL = "Buyer.Name@Example.com"


@pytest.fixture(autouse=True)
def keyservice(runtime: Runtime, settings: Settings) -> None:
    attach_keyservice(runtime, settings)


def last_code(settings: Settings) -> str:
    entries = outbox.read(settings.data_dir / OUTBOX_FILE)
    assert entries, "no code was written to the outbox"
    found = re.search(r"\b(\d{6})\b", entries[-1].body)
    assert found is not None
    return found.group(1)


async def ask_code(api: Api, kind: str, value: str) -> Any:
    return await api.call(None, "POST", "/v1/buyer/code", {"kind": kind, "value": value})


async def sign_in(api: Api, kind: str, value: str, code: str) -> Any:
    body = {"kind": kind, "value": value, "code": code}
    return await api.call(None, "POST", "/v1/buyer/session", body)


async def buyer_pseudonym(runtime: Runtime, kind: str, value: str) -> str:
    """The pseudonym a member would derive for this identifier (same key service)."""
    raw = await runtime.parts.buyers.pseudonyms.pseudonym(kind, identity.normalise(kind, value))
    return b64url(raw)


def shift(runtime: Runtime, delta: timedelta) -> None:
    runtime.parts.buyers.clock = lambda: datetime.now(UTC) + delta


# --- direct sign-in ---------------------------------------------------------------------


async def test_a_buyer_signs_in_with_a_code_by_phone_and_sees_their_record(
    api: Api, runtime: Runtime, settings: Settings, make_principal: MakePrincipal
) -> None:
    shop = await make_principal(name="Shop")
    phone = {"kind": "phone", "pseudonym": await buyer_pseudonym(runtime, "phone", PHONE)}
    report_id = await file_report(api, shop, phone)

    asked = await ask_code(api, "phone", PHONE)
    assert asked.status_code == 202, asked.text
    assert asked.json() == {"status": "sent", "expires_in": 600}
    (entry,) = outbox.read(settings.data_dir / OUTBOX_FILE)
    assert (entry.channel, entry.to) == ("sms", "+8613812345678")
    code = last_code(settings)
    # In the language the code was asked in: Chinese unless the buyer asked otherwise.
    assert entry.body == f"【退款登记处】验证码 {code}，10 分钟内有效。请勿告诉任何人。"

    opened = await sign_in(api, "phone", "+86 138-1234-5678", code)
    assert opened.status_code == 201, opened.text
    session = opened.json()
    assert session["via_member"] is None
    assert session["session"].startswith("rrs_")
    headers = session_headers(session["session"])

    record = await api.call(None, "GET", "/v1/subject/record", headers=headers)
    assert record.status_code == 200, record.text
    assert [r["report_id"] for r in record.json()["reports"]] == [report_id]
    filed = await appeal(api, headers, report_id)
    assert filed["filed_by"] == {"how": "direct", "member": None}
    # The access log names the buyer, not a member; nothing is charged to anyone.
    actors = await runtime.pool.fetch(
        "SELECT actor, role FROM access_log WHERE action IN ('subject.access', 'appeal.open')"
    )
    assert {tuple(r) for r in actors} == {("buyer", "buyer")}
    # The buyer's own reads are not inquiries.
    again = await api.call(None, "GET", "/v1/subject/record", headers=headers)
    assert again.json()["inquiries"] == []
    # A code is used once.
    assert_problem(await sign_in(api, "phone", PHONE, code), 401, "buyer.code_wrong")

    ended = await api.call(None, "DELETE", "/v1/buyer/session", headers=headers)
    assert ended.status_code == 204
    assert_problem(
        await api.call(None, "GET", "/v1/subject/record", headers=headers),
        401,
        "buyer.session_unknown",
    )
    again_ended = await api.call(None, "DELETE", "/v1/buyer/session", headers=headers)
    assert again_ended.status_code == 204


async def test_the_answer_is_the_same_whether_or_not_anything_is_on_record(
    api: Api, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    shop = await make_principal()
    phone = {"kind": "phone", "pseudonym": await buyer_pseudonym(runtime, "phone", PHONE)}
    await file_report(api, shop, phone)
    # Only the per-identifier pacing is under test: the per-address limit (two a
    # second) would otherwise also count the requests of whatever ran just before.
    runtime.parts.buyers.address_limiter.limits = Limits(per_second=100, per_day=100)
    known, unknown = await ask_code(api, "phone", PHONE), await ask_code(api, "phone", OTHER_PHONE)
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    # A second code right away: the same refusal for both.
    known, unknown = await ask_code(api, "phone", PHONE), await ask_code(api, "phone", OTHER_PHONE)
    for refused in (known, unknown):
        doc = assert_problem(refused, 429, "buyer.code_rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 61
        assert doc["detail"] == assert_problem(known, 429)["detail"]


async def test_the_daily_limit_per_identifier_and_per_address(
    api: Api, runtime: Runtime, settings: Settings
) -> None:
    buyers = runtime.parts.buyers
    buyers.address_limiter.limits = Limits(per_second=100, per_day=100)
    moment = [datetime.now(UTC)]
    buyers.clock = lambda: moment[0]
    for _ in range(10):
        assert (await ask_code(api, "email", EMAIL)).status_code == 202
        moment[0] += timedelta(minutes=2)  # past the pacing between two codes
    refused = await ask_code(api, "email", EMAIL)
    assert_problem(refused, 429, "buyer.code_rate_limited")
    assert int(refused.headers["retry-after"]) >= 1
    # Per client address (eleven asked so far, the refused one included).
    buyers.address_limiter.limits = Limits(per_second=100, per_day=12)
    assert (await ask_code(api, "phone", OTHER_PHONE)).status_code == 202
    assert_problem(await ask_code(api, "phone", PHONE), 429, "buyer.code_rate_limited")


async def test_bad_identifiers_name_the_field(api: Api) -> None:
    doc = assert_problem(await ask_code(api, "national_id", "11010519491231002X"), 422)
    assert (doc["code"], doc["field"]) == ("buyer.kind", "kind")
    doc = assert_problem(await ask_code(api, "phone", "call me"), 422, "buyer.value")
    assert (doc["field"], doc["kind"]) == ("value", "phone")
    assert "call me" not in str(doc)
    doc = assert_problem(await ask_code(api, "email", "buyer@localhost"), 422, "buyer.value")
    assert doc["rule"].startswith("email.")
    bad = await api.call(None, "POST", "/v1/buyer/code", {"kind": "phone"})
    assert_problem(bad, 400, "request.invalid_body")
    both = {"kind": "phone", "value": PHONE, "code": "123456", "handoff": "a.b.c"}
    assert_problem(await api.call(None, "POST", "/v1/buyer/session", both), 400)


async def test_five_wrong_tries_lock_the_code(api: Api, settings: Settings) -> None:
    assert (await ask_code(api, "phone", PHONE)).status_code == 202
    code = last_code(settings)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        doc = assert_problem(await sign_in(api, "phone", PHONE, wrong), 401, "buyer.code_wrong")
        assert doc["tries_left"] == left
    assert_problem(await sign_in(api, "phone", PHONE, "not-a-code"), 401, "buyer.code_locked")
    # Locked: even the right digits are refused now.
    assert_problem(await sign_in(api, "phone", PHONE, code), 401, "buyer.code_locked")


async def test_an_expired_code_is_refused(api: Api, runtime: Runtime, settings: Settings) -> None:
    assert (await ask_code(api, "phone", PHONE)).status_code == 202
    code = last_code(settings)
    shift(runtime, timedelta(minutes=10, seconds=1))
    assert_problem(await sign_in(api, "phone", PHONE, code), 401, "buyer.code_expired")


async def test_a_code_proves_only_the_identifier_it_was_sent_to(
    api: Api, settings: Settings
) -> None:
    assert (await ask_code(api, "phone", PHONE)).status_code == 202
    code = last_code(settings)
    assert_problem(await sign_in(api, "phone", OTHER_PHONE, code), 401, "buyer.code_wrong")
    assert (await ask_code(api, "phone", OTHER_PHONE)).status_code == 202
    other_code = last_code(settings)
    if other_code != code:
        assert_problem(await sign_in(api, "phone", OTHER_PHONE, code), 401, "buyer.code_wrong")
    assert (await sign_in(api, "phone", PHONE, code)).status_code == 201


# --- sessions ---------------------------------------------------------------------------


async def test_a_session_ends_after_15_idle_minutes_and_after_an_hour(
    api: Api, runtime: Runtime, settings: Settings
) -> None:
    assert (await ask_code(api, "email", EMAIL)).status_code == 202
    opened = await sign_in(api, "email", EMAIL, last_code(settings))
    idle = session_headers(opened.json()["session"])
    shift(runtime, timedelta(minutes=15, seconds=1))
    assert_problem(
        await api.call(None, "GET", "/v1/subject/record", headers=idle),
        401,
        "buyer.session_expired",
    )
    runtime.parts.buyers.clock = lambda: datetime.now(UTC)

    # Busy all along, but an hour is the most a session lives.
    shift(runtime, timedelta(minutes=2))
    assert (await ask_code(api, "email", EMAIL)).status_code == 202
    runtime.parts.buyers.clock = lambda: datetime.now(UTC)
    opened = await sign_in(api, "email", EMAIL, last_code(settings))
    busy = session_headers(opened.json()["session"])
    for minutes in (10, 20, 30, 40, 50, 59):
        shift(runtime, timedelta(minutes=minutes))
        response = await api.call(None, "GET", "/v1/subject/record", headers=busy)
        assert response.status_code == 200, (minutes, response.text)
    shift(runtime, timedelta(minutes=60, seconds=1))
    assert_problem(
        await api.call(None, "GET", "/v1/subject/record", headers=busy),
        401,
        "buyer.session_expired",
    )


# --- hand-offs --------------------------------------------------------------------------


async def test_a_hand_off_is_exchanged_once(api: Api, make_principal: MakePrincipal) -> None:
    shop = await make_principal(name="Shop")
    phone = ident(pseudonym())
    await file_report(api, shop, phone)
    token = subject_token(shop, phone)
    first = await exchange(api, token)
    assert first.status_code == 201, first.text
    assert first.json()["via_member"] == shop.principal_id
    assert_problem(await exchange(api, token), 401, "subject.handoff_used")
    # The session works; the token itself never does on a buyer route.
    session = session_headers(first.json()["session"])
    assert (await api.call(None, "GET", "/v1/subject/record", headers=session)).status_code == 200
    as_bearer = {"Authorization": f"Bearer {subject_token(shop, phone)}"}
    assert_problem(
        await api.call(None, "GET", "/v1/subject/record", headers=as_bearer),
        401,
        "auth.wrong_type",
    )


async def test_a_member_without_a_relationship_is_refused(
    api: Api, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    shop, stranger = await make_principal(), await make_principal()
    phone = ident(pseudonym())
    await file_report(api, shop, phone)
    token = subject_token(stranger, phone)
    assert_problem(await exchange(api, token), 403, "subject.no_relationship")
    # Refused, not used up: once the member has queried the buyer, the same token works.
    await risk(api, stranger, phone)
    assert (await exchange(api, token)).status_code == 201
    # A query older than twelve months is no relationship.
    old_friend = await make_principal()
    real = runtime.parts.risk.clock
    runtime.parts.risk.clock = lambda: datetime.now(UTC) - timedelta(days=366)
    try:
        await risk(api, old_friend, phone)
    finally:
        runtime.parts.risk.clock = real
    assert_problem(
        await exchange(api, subject_token(old_friend, phone)), 403, "subject.no_relationship"
    )


def handmade_subject_token(signer: Signer, ids: list[dict[str, str]], lifetime: int) -> str:
    now = int(time.time())
    claims = {
        "iss": signer.principal_id,
        "aud": signer.audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
        "pseudonyms": [{"kind": i["kind"], "value": i["pseudonym"]} for i in ids],
    }
    headers = {"typ": "rr-subject+jwt", "kid": signer.kid}
    return jwt.encode(claims, signer.private_key, "EdDSA", headers=headers)


async def test_a_hand_off_lives_at_most_ten_minutes(
    api: Api, make_principal: MakePrincipal
) -> None:
    shop = await make_principal()
    phone = ident(pseudonym())
    await file_report(api, shop, phone)
    too_long = handmade_subject_token(shop, [phone], 601)
    assert_problem(await exchange(api, too_long), 401, "auth.lifetime")
    just_right = handmade_subject_token(shop, [phone], 600)
    assert (await exchange(api, just_right)).status_code == 201
    # The SDK never mints a longer one.
    claims = jwt.decode(
        shop.subject_token([{"kind": "phone", "value": phone["pseudonym"]}], lifetime=900),
        options={"verify_signature": False},
    )
    assert claims["exp"] - claims["iat"] == 600


# --- every look is visible and counted ----------------------------------------------------


async def test_reads_in_a_hand_off_session_count_against_the_members_quota(
    api: Api, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    shop = await make_principal()
    phone = ident(pseudonym())
    await file_report(api, shop, phone)
    buyer = await hand_off(api, shop, phone, relate=False)
    limiter = runtime.parts.query_limiter
    assert runtime.redis is not None
    day_key = limiter.keys(shop.principal_id, time.time())[1]
    before = int(await runtime.redis.get(day_key) or 0)
    assert (await api.call(None, "GET", "/v1/subject/record", headers=buyer)).status_code == 200
    assert int(await runtime.redis.get(day_key) or 0) == before + 1
    # With the organisation's quota used up, the member's hand-off reads nothing more.
    runtime.parts.query_quota.default_per_day = before + 1
    refused = await api.call(None, "GET", "/v1/subject/record", headers=buyer)
    assert_problem(refused, 429, "rate.quota_exhausted")


async def test_a_member_sweeping_through_hand_offs_shows_in_the_audit_summary(
    api: Api, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    sweeper = await make_principal(name="Sweeper")
    buyers = [ident(pseudonym()) for _ in range(4)]
    for one in buyers:
        await file_report(api, sweeper, one)
        session = await hand_off(api, sweeper, one, relate=False)
        response = await api.call(None, "GET", "/v1/subject/record", headers=session)
        assert response.status_code == 200
    await runtime.access_log.close()
    policy = SummaryPolicy(sweep_min_subjects=3, burst_min_queries=1000)
    summary = await day_summary(runtime.pool, datetime.now(UTC).date(), policy)
    (row,) = [m for m in summary["members"] if m["member"] == sweeper.principal_id]
    assert (row["queries"], row["handoff_reads"], row["distinct_subjects"]) == (4, 4, 4)
    assert row["purposes"] == {"subject_access": 1.0}
    assert [a["code"] for a in row["anomalies"]] == ["subject_sweep"]


async def test_the_risk_notice_points_buyers_to_the_portal(
    api: Api, settings: Settings, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    answer = await risk(api, member, ident(pseudonym()))
    assert f"{settings.public_url}/portal" in answer["notice"]


# --- codes by real SMTP -------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


async def test_an_email_code_over_real_smtp_signs_the_buyer_in(
    api: Api, runtime: Runtime, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    from email import message_from_bytes
    from email.policy import default as email_policy

    inbox, port = smtp
    configured = settings.with_overrides(
        smtp_url=f"smtp://127.0.0.1:{port}", smtp_from="Refund Registry <codes@example.com>"
    )
    runtime.parts.buyers.channels = code_channels(configured)
    assert (await ask_code(api, "email", EMAIL)).status_code == 202
    (raw,) = inbox.messages
    message = message_from_bytes(raw, policy=email_policy)
    assert message["To"] == "buyer.name@example.com"
    assert message["From"] == "Refund Registry <codes@example.com>"
    text = message.get_content()
    found = re.search(r"验证码 (\d{6})", text)
    assert found is not None
    assert message["Subject"] == f"【退款登记处】验证码 {found.group(1)}"
    assert "Refund Registry" not in text
    opened = await sign_in(api, "email", "  BUYER.NAME@example.COM ", found.group(1))
    assert opened.status_code == 201, opened.text
    assert not (settings.data_dir / OUTBOX_FILE).exists()


async def test_a_code_asked_in_english_is_mailed_and_texted_in_english(
    api: Api, runtime: Runtime, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    from email import message_from_bytes
    from email.policy import default as email_policy

    inbox, port = smtp
    configured = settings.with_overrides(
        smtp_url=f"smtp://127.0.0.1:{port}", smtp_from="Refund Registry <codes@example.com>"
    )
    runtime.parts.buyers.channels = code_channels(configured)
    english = {"Accept-Language": "en-GB, zh;q=0.5"}
    body = {"kind": "email", "value": EMAIL}
    asked = await api.call(None, "POST", "/v1/buyer/code", body, headers=english)
    assert asked.status_code == 202, asked.text
    (raw,) = inbox.messages
    message = message_from_bytes(raw, policy=email_policy)
    found = re.fullmatch(
        r"Refund Registry code (\d{6}), valid for 10 minutes\. Do not share it\.\s*",
        message.get_content(),
    )
    assert found is not None, message.get_content()
    assert message["Subject"] == f"Refund Registry code {found.group(1)}"
    opened = await sign_in(api, "email", EMAIL, found.group(1))
    assert opened.status_code == 201, opened.text


async def test_a_texted_code_follows_accept_language(api: Api, settings: Settings) -> None:
    sent = {"Accept-Language": "en"}
    body = {"kind": "phone", "value": PHONE}
    assert (await api.call(None, "POST", "/v1/buyer/code", body, headers=sent)).status_code == 202
    (entry,) = outbox.read(settings.data_dir / OUTBOX_FILE)
    code = last_code(settings)
    assert entry.body == f"Refund Registry code {code}, valid for 10 minutes. Do not share it."
