"""Webhook deliveries against a real HTTP receiver on 127.0.0.1.

The receiver fails (500), times out and recovers by script; the service's
clock is a test clock, so a day of back-off takes no time. Signatures are
checked with the ``standardwebhooks`` library, as a member's receiver would.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from refund_registry.delivery.webhooks import Resolver, WebhookSender, system_resolver
from refund_registry.domain import webhooks as rules
from refund_registry.errors import InvalidInput
from refund_registry.runtime import Runtime
from refund_registry.services.webhooks import WebhookService
from refund_registry.storage import events
from tests.support.principals import MakePrincipal
from tests.support.receiver import (
    Receiver,
    running_receiver,
    running_tls_receiver,
    self_signed,
)

KEY = bytes(range(32))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def service(
    runtime: Runtime,
    clock: Clock,
    *,
    allow_private: bool = True,
    timeout: float = 0.5,
    resolver: Resolver = system_resolver,
) -> WebhookService:
    sender = WebhookSender(allow_private=allow_private, timeout=timeout, resolver=resolver)
    return WebhookService(
        runtime.pool, KEY, sender, require_https=False, clock=clock, jitter=lambda: 0.0
    )


async def add_events(runtime: Runtime, member: str, count: int, kind: str = "report") -> None:
    """``count`` events on the member's feed, each committed on its own."""
    for i in range(count):
        async with runtime.pool.acquire() as conn:
            await events.append(
                conn,
                events.Event(
                    datetime.now(UTC),
                    f"{kind}.filed",
                    member,
                    f"rpt_{kind}_{i}",
                    None,
                    {"status": "active", "n": i},
                ),
            )


async def endpoint(svc: WebhookService, member: str, webhook_id: str) -> dict[str, Any]:
    listed = await svc.list(member)
    found: dict[str, Any] = next(w for w in listed["webhooks"] if w["id"] == webhook_id)
    return found


def due(view: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(view["next_attempt_at"].replace("Z", "+00:00"))


async def test_events_arrive_signed_in_feed_order_with_the_feed_item_as_data(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    member = (await make_principal()).principal_id
    svc = service(runtime, clock)
    created = await svc.register(member, receiver.url, None)
    await add_events(runtime, member, 3)

    assert await svc.deliver_due() == 3
    feed = (await runtime.ledger.feed(member, "", 100))["events"]
    assert len(receiver.received) == 3
    for got, item in zip(receiver.received, feed, strict=True):
        payload = Webhook(created["secret"]).verify(got.body, got.headers)
        assert payload == {"type": item["type"], "timestamp": item["at"], "data": item}
        assert got.headers["webhook-id"] == f"evt_{item['cursor']}"
        assert got.headers["content-type"] == "application/json"
        assert got.headers["content-language"] == "zh-CN"
        assert item["description"] == f"报告 {item['report_id']} 已提交（案件编号 -）。"
    assert [b["data"]["n"] for b in receiver.bodies()] == [0, 1, 2]
    assert await svc.deliver_due() == 0  # nothing left, nothing sent twice
    log = await svc.deliveries(member, created["id"], "", 100)
    assert [(d["attempt"], d["status_code"], d["outcome"]) for d in log["deliveries"]] == [
        (1, 200, "delivered")
    ] * 3


async def test_deliveries_describe_the_event_in_the_registrys_language(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    member = (await make_principal()).principal_id
    sender = WebhookSender(allow_private=True, timeout=0.5)
    svc = WebhookService(runtime.pool, KEY, sender, require_https=False, clock=clock, language="en")
    await svc.register(member, receiver.url, None)
    await add_events(runtime, member, 1)
    assert await svc.deliver_due() == 1
    (got,) = receiver.received
    assert got.headers["content-language"] == "en"
    (body,) = receiver.bodies()
    (item,) = (await runtime.ledger.feed(member, "", 100, language="en"))["events"]
    assert body["data"] == item
    assert item["description"] == "Report rpt_report_0 was filed (case reference -)."


async def test_a_failing_event_backs_off_holds_later_events_and_recovers(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    member = (await make_principal()).principal_id
    svc = service(runtime, clock)
    created = await svc.register(member, receiver.url, None)
    await add_events(runtime, member, 2)
    receiver.slow_seconds = 1.5  # beyond the sender's 0.5 s timeout
    receiver.behave(500, 500, "slow")
    start = clock.now

    assert await svc.deliver_due() == 1
    view = await endpoint(svc, member, created["id"])
    assert (view["failed_attempts"], due(view)) == (1, start + timedelta(seconds=5))
    assert await svc.deliver_due() == 0  # not due yet: no request
    clock.advance(seconds=4)
    assert await svc.deliver_due() == 0
    clock.advance(seconds=1)
    assert await svc.deliver_due() == 1
    view = await endpoint(svc, member, created["id"])
    assert due(view) == clock.now + timedelta(minutes=5)
    clock.advance(minutes=5)
    assert await svc.deliver_due() == 1  # times out
    view = await endpoint(svc, member, created["id"])
    assert (view["failed_attempts"], due(view)) == (3, clock.now + timedelta(minutes=30))
    clock.advance(minutes=30)
    assert await svc.deliver_due() == 2  # recovered: the held event follows at once

    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert [b["data"]["n"] for b in receiver.bodies()] == [0, 0, 0, 0, 1]
    assert len(set(ids[:4])) == 1
    assert ids[4] != ids[0]
    log = (await svc.deliveries(member, created["id"], "", 100))["deliveries"]
    assert [(d["attempt"], d["status_code"], d["error"], d["outcome"]) for d in log] == [
        (1, 500, None, "retry"),
        (2, 500, None, "retry"),
        (3, None, "timeout", "retry"),
        (4, 200, None, "delivered"),
        (1, 200, None, "delivered"),
    ]
    assert log[0]["next_attempt_at"] is not None
    assert log[3]["next_attempt_at"] is None
    page = await svc.deliveries(member, created["id"], log[1]["id"], 2)
    assert [d["id"] for d in page["deliveries"]] == [log[2]["id"], log[3]["id"]]
    assert page["next_cursor"] == log[3]["id"]


async def test_an_endpoint_is_disabled_after_the_schedule_and_the_feed_says_so(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock
) -> None:
    member = (await make_principal()).principal_id
    svc = service(runtime, clock)
    with running_receiver(default=500) as failing, running_receiver() as healthy:
        broken = await svc.register(member, failing.url, None)
        await svc.register(member, healthy.url, None)
        await add_events(runtime, member, 1)

        attempts = 0
        while (view := await endpoint(svc, member, broken["id"]))["status"] == "active":
            clock.now = max(clock.now, due(view))
            attempts += await svc.deliver_due()
        assert len(failing.received) == rules.MAX_ATTEMPTS
        assert view["disabled_reason"] == "retries_exhausted"
        log = (await svc.deliveries(member, broken["id"], "", 100))["deliveries"]
        assert [d["attempt"] for d in log] == list(range(1, rules.MAX_ATTEMPTS + 1))
        assert log[-1]["outcome"] == "disabled"
        assert log[-1]["next_attempt_at"] is None
        first, last = (datetime.fromisoformat(log[i]["at"].replace("Z", "+00:00")) for i in (0, -1))
        assert last - first >= timedelta(hours=24)

        feed = (await runtime.ledger.feed(member, "", 100))["events"]
        disabled = feed[-1]
        assert disabled["type"] == "webhook.disabled"
        assert disabled["webhook_id"] == broken["id"]
        assert disabled["reason"] == "retries_exhausted"
        assert disabled["attempts"] == rules.MAX_ATTEMPTS
        assert disabled["event_cursor"] == feed[0]["cursor"]
        # The member's other endpoint hears of it.
        await svc.deliver_due()
        assert [b["type"] for b in healthy.bodies()] == ["report.filed", "webhook.disabled"]
        assert await svc.deliver_due() == 0  # a disabled endpoint is never claimed

        # Enabled again, it resumes with the event it failed on.
        failing.default = 200
        await svc.enable(member, broken["id"])
        assert await svc.deliver_due() == 2
        assert [b["type"] for b in failing.bodies()[-2:]] == ["report.filed", "webhook.disabled"]


async def test_gone_disables_at_once(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock
) -> None:
    member = (await make_principal()).principal_id
    svc = service(runtime, clock)
    with running_receiver(default=410) as gone:
        created = await svc.register(member, gone.url, None)
        await add_events(runtime, member, 2)
        assert await svc.deliver_due() == 1
    view = await endpoint(svc, member, created["id"])
    assert (view["status"], view["disabled_reason"]) == ("disabled", "gone")


async def test_one_members_failing_endpoint_does_not_hold_another_member_back(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock
) -> None:
    a, b = (await make_principal()).principal_id, (await make_principal()).principal_id
    svc = service(runtime, clock)
    with running_receiver(default=500) as failing, running_receiver() as healthy:
        await svc.register(a, failing.url, None)
        await svc.register(b, healthy.url, None)
        await add_events(runtime, a, 2, "a")
        await add_events(runtime, b, 2, "b")
        await svc.deliver_due()
        assert [x["data"]["report_id"] for x in healthy.bodies()] == ["rpt_b_0", "rpt_b_1"]
        assert [x["data"]["report_id"] for x in failing.bodies()] == ["rpt_a_0"]


async def test_two_workers_never_send_one_attempt_twice(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    member = (await make_principal()).principal_id
    first, second = service(runtime, clock), service(runtime, clock)
    await first.register(member, receiver.url, None)
    await add_events(runtime, member, 5)
    made = await asyncio.gather(first.deliver_due(), second.deliver_due(), first.deliver_due())
    assert sum(made) == 5
    assert [b["data"]["n"] for b in receiver.bodies()] == [0, 1, 2, 3, 4]


async def test_rotation_signs_with_both_secrets_for_a_day(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    member = (await make_principal()).principal_id
    svc = service(runtime, clock)
    created = await svc.register(member, receiver.url, None)
    rotated = await svc.rotate(member, created["id"])
    assert rotated["secret"] != created["secret"]
    await add_events(runtime, member, 1)
    await svc.deliver_due()
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (created["secret"], rotated["secret"]):  # a receiver with either verifies
        Webhook(secret).verify(got.body, got.headers)

    clock.advance(hours=24, seconds=1)
    await add_events(runtime, member, 1)
    await svc.deliver_due()
    got = receiver.received[-1]
    stamp = datetime.fromtimestamp(int(got.headers["webhook-timestamp"]), UTC)
    expected = Webhook(rotated["secret"]).sign(got.headers["webhook-id"], stamp, got.body.decode())
    assert got.headers["webhook-signature"] == expected
    old = Webhook(created["secret"]).sign(got.headers["webhook-id"], stamp, got.body.decode())
    assert old not in got.headers["webhook-signature"]


async def test_deliveries_start_where_the_member_says(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock
) -> None:
    member = (await make_principal()).principal_id
    svc = service(runtime, clock)
    await add_events(runtime, member, 3)
    feed = (await runtime.ledger.feed(member, "", 100))["events"]
    with running_receiver() as later, running_receiver() as everything, running_receiver() as mid:
        assert (await svc.register(member, later.url, None))["position"] == feed[-1]["cursor"]
        await svc.register(member, everything.url, "")
        await svc.register(member, mid.url, feed[0]["cursor"])
        await svc.deliver_due()
        assert later.received == []
        assert [b["data"]["n"] for b in everything.bodies()] == [0, 1, 2]
        assert [b["data"]["n"] for b in mid.bodies()] == [1, 2]


async def test_a_deleted_endpoint_gets_nothing_more(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    member = (await make_principal()).principal_id
    svc = service(runtime, clock)
    created = await svc.register(member, receiver.url, None)
    await svc.delete(member, created["id"])
    await add_events(runtime, member, 1)
    assert await svc.deliver_due() == 0
    assert receiver.received == []


# -- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost/hook",  # a name that resolves to 127.0.0.1
    ],
)
async def test_registration_refuses_internal_addresses_without_the_flag(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, url: str
) -> None:
    member = (await make_principal()).principal_id
    with pytest.raises(InvalidInput) as caught:
        await service(runtime, clock, allow_private=False).register(member, url, None)
    assert caught.value.code == "webhook.url_address"


async def test_a_name_with_any_internal_address_is_refused(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock
) -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    member = (await make_principal()).principal_id
    svc = service(runtime, clock, allow_private=False, resolver=mixed)
    with pytest.raises(InvalidInput) as caught:
        await svc.register(member, "http://rebind.test/hook", None)
    assert caught.value.code == "webhook.url_address"


async def test_the_address_is_checked_again_at_delivery_time(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    """A name that resolved to a public address at registration and to loopback later
    (DNS rebinding) gets no request."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    member = (await make_principal()).principal_id
    svc = service(runtime, clock, allow_private=False, resolver=rebinding)
    created = await svc.register(member, f"http://rebind.test:{receiver.port}/hook", None)
    await add_events(runtime, member, 1)
    assert await svc.deliver_due() == 1
    assert receiver.received == []
    [attempt] = (await svc.deliveries(member, created["id"], "", 10))["deliveries"]
    assert (attempt["error"], attempt["status_code"], attempt["outcome"]) == (
        "address_refused",
        None,
        "retry",
    )


async def test_loopback_registered_with_the_flag_is_refused_without_it(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    member = (await make_principal()).principal_id
    await service(runtime, clock).register(member, receiver.url, None)
    await add_events(runtime, member, 1)
    assert await service(runtime, clock, allow_private=False).deliver_due() == 1
    assert receiver.received == []


async def test_the_request_goes_to_the_checked_address_with_the_urls_host(
    runtime: Runtime, make_principal: MakePrincipal, clock: Clock, receiver: Receiver
) -> None:
    calls: list[str] = []

    async def pinned(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    member = (await make_principal()).principal_id
    svc = service(runtime, clock, resolver=pinned)
    await svc.register(member, f"http://receiver.test:{receiver.port}/hook?x=1", None)
    await add_events(runtime, member, 1)
    assert await svc.deliver_due() == 1
    [got] = receiver.received
    assert got.headers["host"] == f"receiver.test:{receiver.port}"
    assert got.path == "/hook?x=1"
    assert calls == ["receiver.test", "receiver.test"]  # registration, then delivery


async def test_a_large_answer_is_read_only_up_to_the_cap(clock: Clock) -> None:
    with running_receiver() as receiver:
        sender = WebhookSender(allow_private=True, timeout=2.0, max_response_bytes=4)
        answer = await sender.post(receiver.url, b"{}", {})
    assert (answer.status, answer.error) == (200, None)


async def test_an_unreachable_port_is_a_connection_error() -> None:
    sender = WebhookSender(allow_private=True, timeout=2.0)
    with running_receiver() as receiver:
        url = receiver.url
    answer = await sender.post(url, b"{}", {})
    assert (answer.status, answer.error) == (None, "connection")


async def test_tls_is_checked_against_the_urls_name_not_the_pinned_address(
    tmp_path: Path,
) -> None:
    """The connection goes to the checked IP, yet SNI and certificate checks use the
    URL's host name: a certificate for that name passes, one for another name fails."""
    cert, key = self_signed("receiver.test", tmp_path)
    trust = ssl.create_default_context(cafile=cert)

    async def pinned(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    sender = WebhookSender(allow_private=True, timeout=5.0, resolver=pinned, verify=trust)
    with running_tls_receiver(cert, key) as receiver:
        good = await sender.post(f"https://receiver.test:{receiver.port}/hook", b"{}", {})
        wrong = await sender.post(f"https://other.test:{receiver.port}/hook", b"{}", {})
    assert (good.status, good.error) == (200, None)
    assert (wrong.status, wrong.error) == (None, "tls")
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["host"] == f"receiver.test:{receiver.port}"
