"""Appeals seeded straight through the storage repositories, for the listings' tests.

Filing an appeal over HTTP takes a hand-off and a session per buyer; the
listings only read rows, so their tests seed appeals in any state and with
any deadlines directly, on reports filed through the API.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from refund_registry.client.signing import Signer
from refund_registry.runtime import Runtime
from refund_registry.services.authn import Caller
from refund_registry.storage import appeals as appeal_rows


def caller(signer: Signer, role: str) -> Caller:
    """The verified caller a signed request of ``signer`` would produce."""
    return Caller(
        principal_id=signer.principal_id,
        role=role,
        name=role,
        kid=signer.kid,
        jti=secrets.token_urlsafe(9),
        request_digest=secrets.token_urlsafe(32),
        claims={},
    )


async def seed_appeal(
    runtime: Runtime,
    report_id: str,
    member_id: str,
    *,
    filed_at: datetime,
    state: str = "awaiting_member",
    closed_at: datetime | None = None,
    grounds: str = "not_me",
) -> str:
    """An appeal on ``report_id`` filed at ``filed_at`` (10- and 20-day deadlines), then
    moved to ``state``; a closed one closes at ``closed_at``. Returns its id."""
    appeal_id = "apl_" + secrets.token_hex(8)
    new_evidence = grounds == "new_evidence"
    async with runtime.pool.acquire() as conn, conn.transaction():
        await appeal_rows.insert(
            conn,
            appeal_rows.NewAppeal(
                id=appeal_id,
                report_id=report_id,
                member_id=member_id,
                filed_via=None,
                subject_keys=[],
                grounds=grounds,
                statement="I never ordered this.",
                state="awaiting_adjudication" if new_evidence else "awaiting_member",
                filed_at=filed_at,
                member_response_due=None if new_evidence else filed_at + timedelta(days=10),
                decision_due=filed_at + timedelta(days=20),
                member_summary="the photo was edited" if new_evidence else None,
            ),
        )
        current = "awaiting_adjudication" if new_evidence else "awaiting_member"
        if state not in (current, "awaiting_member"):
            if state != "withdrawn" and current == "awaiting_member":
                assert await appeal_rows.set_state(
                    conn, appeal_id, current, "awaiting_adjudication",
                    summary="the photo was edited", rationale=None, closed_reason=None,
                    answered_at=filed_at + timedelta(days=1), decided_at=None,
                )  # fmt: skip
                current = "awaiting_adjudication"
            if state != current:
                assert closed_at is not None, "a closed appeal needs its closing time"
                assert await appeal_rows.set_state(
                    conn, appeal_id, current, state,
                    summary=None, rationale="decided" if state != "withdrawn" else None,
                    closed_reason="decided" if state != "withdrawn" else "withdrawn",
                    answered_at=None, decided_at=closed_at,
                )  # fmt: skip
    return appeal_id
