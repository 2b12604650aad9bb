"""Codes leave by real SMTP (aiosmtpd), a real HTTP gateway, or the local outbox."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from standardwebhooks import Webhook, WebhookVerificationError

from refund_registry.delivery import outbox
from refund_registry.delivery.mail import SmtpMailer, SmtpSettings
from refund_registry.delivery.sms import SmsGateway
from refund_registry.errors import Unavailable
from tests.support.waiting import free_port

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAx"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
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


async def test_a_mail_reaches_the_smtp_server_in_utf8(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{port}", sender="registry@example.test")
    await SmtpMailer(settings).send(
        "buyer@example.test", "您的验证码", "验证码 123456,10 分钟内有效"
    )
    ((sender, recipients, raw),) = inbox.messages
    assert sender == "registry@example.test"
    assert recipients == ["buyer@example.test"]
    message = message_from_bytes(raw, policy=email_policy)
    assert message["Subject"] == "您的验证码"
    assert "123456" in message.get_content()


async def test_an_unreachable_mail_server_is_unavailable_without_naming_the_buyer() -> None:
    settings = SmtpSettings.from_url(f"smtp://127.0.0.1:{free_port()}", sender="r@example.test")
    with pytest.raises(Unavailable) as caught:
        await SmtpMailer(settings).send("buyer@example.test", "code", "123456")
    assert caught.value.code == "delivery.mail_unavailable"
    assert "buyer" not in caught.value.detail


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.test:2525", ("mail.example.test", 2525, False, None)),
        ("smtps://u%40x:p%3Aw@mail.example.test", ("mail.example.test", 465, True, "u@x")),
        ("smtp://mail.example.test", ("mail.example.test", 25, False, None)),
    ],
)
def test_smtp_urls(url: str, expected: tuple[str, int, bool, str | None]) -> None:
    s = SmtpSettings.from_url(url, sender="r@example.test")
    assert (s.host, s.port, s.implicit_tls, s.username) == expected


@pytest.mark.parametrize("url", ["http://mail.example.test", "smtp://", "mail.example.test:25"])
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="smtp://host:port"):
        SmtpSettings.from_url(url, sender="r@example.test")


class _Gateway(http.server.BaseHTTPRequestHandler):
    status = 202
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(type(self).status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def gateway() -> Iterator[tuple[type[_Gateway], str]]:
    handler = type("Gateway", (_Gateway,), {"received": [], "status": 202})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/sms"
    finally:
        server.shutdown()
        server.server_close()


async def test_an_sms_is_posted_signed_and_verifies_with_a_standard_webhooks_library(
    gateway: tuple[type[_Gateway], str],
) -> None:
    handler, url = gateway
    await SmsGateway(url, SECRET).send("+8613812345678", "", "验证码 654321")
    ((headers, body),) = handler.received
    assert Webhook(SECRET).verify(body, headers) == {
        "to": "+8613812345678",
        "text": "验证码 654321",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"654321", b"000000"), headers)


async def test_a_refusing_gateway_is_unavailable(gateway: tuple[type[_Gateway], str]) -> None:
    handler, url = gateway
    handler.status = 500
    with pytest.raises(Unavailable) as caught:
        await SmsGateway(url, SECRET).send("+8613812345678", "", "code")
    assert caught.value.code == "delivery.sms_unavailable"


async def test_the_outbox_is_private_and_keeps_every_message(tmp_path: Path) -> None:
    path = tmp_path / "data" / "outbox.jsonl"
    box = outbox.Outbox(path, "sms")
    assert outbox.read(path) == []
    await box.send("+8613812345678", "", "first 111111")
    await box.send("+8613812345678", "", "second 222222")
    assert [e.body for e in outbox.read(path)] == ["first 111111", "second 222222"]
    assert {e.channel for e in outbox.read(path)} == {"sms"}
    assert os.stat(path).st_mode & 0o777 == 0o600
