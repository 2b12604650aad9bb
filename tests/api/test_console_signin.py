"""Staff sign-in to the console over HTTP: one-time links, sessions, sign-out, refusals."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from refund_registry.domain import staff_access as rules
from refund_registry.runtime import Runtime
from refund_registry.services import principals
from refund_registry.services.parties import entry
from refund_registry.services.staff_signin import StaffIdentity
from tests.support.console import console_link, form_token, sign_in
from tests.support.principals import MakePrincipal


async def test_a_link_signs_in_once_and_the_cookie_stays_on_the_console(
    client: httpx.AsyncClient, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    adjudicator = await make_principal("adjudicator", "Judge Wang")
    link = await console_link(runtime, adjudicator.principal_id)
    confirm = await client.get(link)
    # A GET never uses the link up: scanners and previews fetch links.
    again = await client.get(link)
    assert confirm.status_code == again.status_code == 200
    assert confirm.headers["referrer-policy"] == "no-referrer"
    assert confirm.headers["cache-control"] == "no-store"
    token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert token is not None
    form = {"csrf_token": form_token(confirm.text), "token": token.group(1)}
    done = await client.post("/console/signin", data=form)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/"
    session_cookie = next(c for c in done.headers.get_list("set-cookie") if "rr_staff=" in c)
    assert "Path=/console" in session_cookie
    assert "HttpOnly" in session_cookie
    assert "SameSite=lax" in session_cookie
    stored = await runtime.pool.fetch("SELECT digest FROM staff_sessions")
    value = client.cookies.get("rr_staff")
    assert value is not None
    assert [r["digest"] for r in stored] == [rules.session_digest(value)]
    home = await client.get("/console/")
    assert home.status_code == 303
    assert home.headers["location"] == "/console/queue"
    # The same link a second time: refused.
    client.cookies.delete("rr_staff")
    reused = await client.post("/console/signin", data=form)
    assert reused.status_code == 401
    assert "console" in reused.text
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 1


async def test_a_link_post_without_the_form_token_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal("member")
    link = await console_link(runtime, member.principal_id)
    token = link.split("token=", 1)[1]
    refused = await client.post("/console/signin", data={"token": token})
    assert refused.status_code == 403
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 0


async def test_an_expired_link_opens_nothing(
    client: httpx.AsyncClient, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal("member")
    link = await console_link(runtime, member.principal_id)
    await runtime.pool.execute(
        "UPDATE staff_links SET issued_at = issued_at - interval '11 minutes', "
        "expires_at = expires_at - interval '11 minutes'"
    )
    confirm = await client.get(link)
    token = link.split("token=", 1)[1]
    refused = await client.post(
        "/console/signin", data={"csrf_token": form_token(confirm.text), "token": token}
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("role", ["admin", "portal"])
async def test_no_link_for_a_role_without_a_console(
    runtime: Runtime, make_principal: MakePrincipal, role: str
) -> None:
    who = await make_principal(role)
    with pytest.raises(Exception, match="not active or has no console") as caught:
        await runtime.parts.staff.issue_link(who.principal_id)
    assert getattr(caught.value, "code", None) == "console.principal_inactive"


async def test_a_suspended_principal_loses_the_console_at_once(
    client: httpx.AsyncClient, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal("member")
    assert await sign_in(client, runtime, member.principal_id) == "/console/inbox"
    await principals.set_status(runtime.pool, member.principal_id, "suspended")
    home = await client.get("/console/")
    assert home.status_code == 303
    assert home.headers["location"] == "/console/signin?reason=inactive"
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 0
    with pytest.raises(Exception, match="not active"):
        await runtime.parts.staff.issue_link(member.principal_id)


async def test_an_idle_session_ends(
    client: httpx.AsyncClient, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal("member")
    await sign_in(client, runtime, member.principal_id)
    idle = rules.SESSION_IDLE + timedelta(seconds=1)
    await runtime.pool.execute(
        "UPDATE staff_sessions SET created_at = created_at - $1::interval, "
        "last_seen_at = last_seen_at - $1::interval",
        idle,
    )
    home = await client.get("/console/")
    assert home.headers["location"] == "/console/signin?reason=expired"


async def test_sign_out_ends_the_session(
    client: httpx.AsyncClient, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    member = await make_principal("auditor")
    await sign_in(client, runtime, member.principal_id)
    page = await client.get("/console/signin")
    out = await client.post("/console/signout", data={"csrf_token": form_token(page.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/signin?reason=signed_out"
    assert await runtime.pool.fetchval("SELECT count(*) FROM staff_sessions") == 0


def test_console_work_is_logged_as_the_principal_via_the_console() -> None:
    staff = StaffIdentity("adj_1", "adjudicator", "Judge", "css_0123")
    at = datetime.now(UTC)
    record = entry(staff.caller(), "appeal.read", at, [], outcome="open", appeal="apl_1")
    assert record.actor == "adj_1"
    assert record.role == "adjudicator"
    assert record.request_digest == "css_0123"
    assert record.detail == {"appeal_id": "apl_1", "via": "console"}
