"""Buyers signed in for tests: member hand-offs exchanged for sessions, and the
in-process key service that direct sign-in derives pseudonyms from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.support.api import Api

if TYPE_CHECKING:
    from refund_registry.client.signing import Signer
    from refund_registry.config import Settings
    from refund_registry.runtime import Runtime


def subject_token(issuer: Signer, *ids: dict[str, str], **claims: Any) -> str:
    """A subject token issued by ``issuer`` naming these ``{kind, pseudonym}`` identifiers."""
    pseudonyms = [{"kind": i["kind"], "value": i["pseudonym"]} for i in ids]
    return issuer.subject_token(pseudonyms, **claims)


def session_headers(session: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {session}"}


async def exchange(api: Api, token: str) -> httpx.Response:
    """``POST /v1/buyer/session {handoff}``: the answer, whatever it is."""
    response: httpx.Response = await api.call(None, "POST", "/v1/buyer/session", {"handoff": token})
    return response


async def hand_off(
    api: Api, issuer: Signer, *ids: dict[str, str], relate: bool = True, **claims: Any
) -> dict[str, str]:
    """Headers of a buyer session that ``issuer`` handed over for these identifiers.

    With ``relate`` the member first queries the identifiers (a member hands
    over only buyers it has a relationship with); a member that reported one
    of them has one already and may pass ``relate=False``.
    """
    if relate:
        body = {"identifiers": list(ids), "purpose": "refund_decision"}
        queried = await api.call(issuer, "POST", "/v1/risk/query", body)
        assert queried.status_code == 200, queried.text
    response = await exchange(api, subject_token(issuer, *ids, **claims))
    assert response.status_code == 201, response.text
    return session_headers(response.json()["session"])


def attach_keyservice(runtime: Runtime, settings: Settings) -> None:
    """Point the runtime's portal at an in-process key service (same database and Redis)."""
    from refund_registry.keyservice.app import create_keyservice_app
    from refund_registry.services.portal_pseudonyms import PortalPseudonyms
    from refund_registry.storage.ratelimit import Limits

    app = create_keyservice_app(
        settings, runtime_override=runtime, limits=Limits(per_second=1_000, per_day=1_000_000)
    )
    pseudonyms = runtime.parts.buyers.pseudonyms
    assert isinstance(pseudonyms, PortalPseudonyms)
    pseudonyms.transport = httpx.ASGITransport(app=app)
