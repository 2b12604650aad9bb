"""The webhook routes: registration, listing, rotation, deletion, the log, refusals;
and ``serve``'s own worker delivering without a second command."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from standardwebhooks import Webhook

from refund_registry.config import Settings
from refund_registry.domain import webhooks as rules
from refund_registry.http import webhooks as answers
from refund_registry.http.app import create_app, runs_worker
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.factories import report_body
from tests.support.principals import MakePrincipal
from tests.support.receiver import running_receiver
from tests.support.waiting import eventually

PUBLIC = "https://93.184.216.34/hooks/refund-registry"


async def register(api: Api, member: Any, url: str = PUBLIC, **extra: Any) -> dict[str, Any]:
    response = await api.call(member, "POST", "/v1/webhooks", {"url": url, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_register_shows_the_secret_once_and_lists_without_it(
    api: Api, make_principal: MakePrincipal, runtime: Runtime
) -> None:
    member = await make_principal()
    created = await register(api, member)
    msgspec.convert(created, answers.WebhookCreated)
    assert created["id"].startswith("whk_")
    assert created["url"] == PUBLIC
    assert created["status"] == "active"
    raw = base64.b64decode(created["secret"].removeprefix("whsec_"))
    assert created["secret"].startswith("whsec_")
    assert len(raw) == rules.SECRET_BYTES
    Webhook(created["secret"])  # any Standard Webhooks library takes it as it is

    listed = await api.call(member, "GET", "/v1/webhooks")
    assert listed.status_code == 200
    msgspec.convert(listed.json(), answers.WebhookList)
    assert [w["id"] for w in listed.json()["webhooks"]] == [created["id"]]
    assert "whsec_" not in listed.text
    assert 'secret"' not in listed.text
    assert listed.json()["limit"] == rules.MAX_ENDPOINTS
    stored = await runtime.pool.fetchval("SELECT secret_sealed FROM webhooks")
    assert raw not in bytes(stored)  # sealed at rest


async def test_rotate_gives_a_new_secret_with_a_day_of_grace(
    api: Api, make_principal: MakePrincipal
) -> None:
    member = await make_principal()
    created = await register(api, member)
    response = await api.call(member, "POST", f"/v1/webhooks/{created['id']}/rotate")
    assert response.status_code == 200, response.text
    rotated = msgspec.convert(response.json(), answers.SecretRotated)
    assert rotated.secret != created["secret"]
    assert rotated.secret.startswith("whsec_")
    listed = (await api.call(member, "GET", "/v1/webhooks")).json()["webhooks"]
    assert listed[0]["previous_secret_until"] == rotated.previous_secret_until


async def test_delete_and_the_delivery_log(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    created = await register(api, member)
    log = await api.call(member, "GET", f"/v1/webhooks/{created['id']}/deliveries?limit=5")
    assert log.status_code == 200, log.text
    assert msgspec.convert(log.json(), answers.DeliveryPage).deliveries == []
    gone = await api.call(member, "DELETE", f"/v1/webhooks/{created['id']}")
    assert gone.status_code == 204
    again = await api.call(member, "DELETE", f"/v1/webhooks/{created['id']}")
    assert_problem(again, 404, "webhook.not_found")


async def test_other_roles_are_refused(api: Api, make_principal: MakePrincipal) -> None:
    auditor = await make_principal("auditor")
    assert_problem(
        await api.call(auditor, "POST", "/v1/webhooks", {"url": PUBLIC}),
        403,
        "auth.forbidden_role",
    )
    assert_problem(await api.call(auditor, "GET", "/v1/webhooks"), 403, "auth.forbidden_role")


async def test_another_members_webhook_is_not_found(
    api: Api, make_principal: MakePrincipal
) -> None:
    owner, other = await make_principal(), await make_principal()
    created = await register(api, owner)
    base = f"/v1/webhooks/{created['id']}"
    for method, path in (
        ("DELETE", base),
        ("POST", f"{base}/rotate"),
        ("POST", f"{base}/enable"),
        ("GET", f"{base}/deliveries"),
    ):
        assert_problem(await api.call(other, method, path), 404, "webhook.not_found")
    assert (await api.call(other, "GET", "/v1/webhooks")).json()["webhooks"] == []
    assert_problem(await api.call(owner, "POST", f"{base}/enable"), 409, "webhook.not_disabled")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://shop.example/h", "webhook.url"),
        ("https://user:pw@shop.example/h", "webhook.url"),
        ("https://shop.example/" + "a" * rules.URL_MAX, "webhook.url"),
        ("not a url", "webhook.url"),
        ("http://127.0.0.1:8080/hook", "webhook.url_address"),
        ("http://10.1.2.3/hook", "webhook.url_address"),
        ("http://169.254.169.254/latest/meta-data/", "webhook.url_address"),
        ("http://[::1]/hook", "webhook.url_address"),
        ("http://localhost/hook", "webhook.url_address"),
    ],
)
async def test_bad_urls_are_422_with_a_stable_code(
    api: Api, make_principal: MakePrincipal, url: str, code: str
) -> None:
    member = await make_principal()
    response = await api.call(member, "POST", "/v1/webhooks", {"url": url})
    assert_problem(response, 422, code)


async def test_malformed_bodies_and_parameters(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    assert_problem(
        await api.call(member, "POST", "/v1/webhooks", {"url": PUBLIC, "events": ["x"]}),
        400,
        "request.invalid_body",
    )
    assert_problem(
        await api.call(member, "POST", "/v1/webhooks", {"url": PUBLIC, "after": "nope"}),
        422,
        "events.cursor",
    )
    created = await register(api, member)
    log = f"/v1/webhooks/{created['id']}/deliveries"
    assert_problem(await api.call(member, "GET", f"{log}?limit=0"), 422, "webhook.page_limit")
    assert_problem(await api.call(member, "GET", f"{log}?after=x"), 422, "webhook.cursor")


async def test_a_member_has_at_most_ten_endpoints(api: Api, make_principal: MakePrincipal) -> None:
    member = await make_principal()
    for _ in range(rules.MAX_ENDPOINTS):
        await register(api, member)
    response = await api.call(member, "POST", "/v1/webhooks", {"url": PUBLIC})
    assert_problem(response, 409, "webhook.too_many")


def test_serve_runs_the_worker_in_zero_setup_mode_only() -> None:
    assert not runs_worker(Settings(database_url="postgresql://db/x"))
    assert runs_worker(Settings(keyservice_database_url="postgresql://ks@127.0.0.1/x"))
    assert runs_worker(Settings(serve_worker="on"))
    assert not runs_worker(Settings(serve_worker="off", keyservice_database_url="postgresql://k"))


async def test_serve_delivers_without_a_second_command(
    settings: Settings, make_principal: MakePrincipal
) -> None:
    """The app's lifespan runs the worker's duties: a filed report reaches the endpoint."""
    live = settings.with_overrides(serve_worker="on", webhook_allow_private=True)
    member = await make_principal()
    with running_receiver() as receiver:
        async with AsyncTestClient(create_app(live)) as client:
            api = Api(client)
            created = await register(api, member, receiver.url)
            filed = await api.call(member, "POST", "/v1/reports", report_body())
            assert filed.status_code == 201, filed.text

            async def arrived() -> bool:
                return bool(receiver.received)

            await eventually(arrived, within=15.0)
        got = receiver.received[0]
        payload = Webhook(created["secret"]).verify(got.body, got.headers)
        assert payload["type"] == "report.filed"
        assert payload["data"]["report_id"] == filed.json()["report_id"]
