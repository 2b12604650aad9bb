"""Test data builders: valid bodies that a test then breaks one field at a time.

The benchmarks build their reports here too, so a bench files what the tests
prove the registry accepts.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from refund_registry.domain import access


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pseudonym() -> str:
    """A random 64-byte pseudonym as a member would send it (86 characters)."""
    return b64url(secrets.token_bytes(64))


def ident(p: str, kind: str = "phone") -> dict[str, str]:
    """One identifier of a report or a query: a pseudonym and its kind."""
    return {"kind": kind, "pseudonym": p}


def access_record(actor: str = "m_test") -> access.AccessRecord:
    """One access-log entry as a member's risk query writes it."""
    return access.AccessRecord(
        at=datetime.now(UTC),
        actor=actor,
        role="member",
        action="risk.query",
        request_digest=secrets.token_urlsafe(32),
        subject_keys=[secrets.token_bytes(32)],
        purpose="refund_decision",
        outcome="none",
        query_id="q_" + secrets.token_hex(10),
    )


def report_body(
    *,
    identifiers: list[dict[str, str]] | None = None,
    now: datetime | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A report the registry accepts; dates are relative to ``now`` (default: the clock).

    Pass ``now`` when building many at once (a bench's 10,000-report upload):
    every body then carries the same dates and no clock is read per report.
    """
    now = now or datetime.now(UTC)
    body: dict[str, Any] = {
        "case_reference": "case-" + secrets.token_hex(6),
        "identifiers": identifiers or [{"kind": "phone", "pseudonym": pseudonym()}],
        "category": "ai_forged_evidence",
        "amount": {"minor_units": 129_900, "currency": "CNY"},
        "order_date": (now - timedelta(days=20)).date().isoformat(),
        "refund_date": (now - timedelta(days=12)).date().isoformat(),
        "confirmed_at": (now - timedelta(days=3)).isoformat(),
        "buyer_notified_at": (now - timedelta(days=2)).isoformat(),
        "evidence_kinds": ["photo_forensics", "ai_detector"],
        "evidence_digest": b64url(hashlib.sha256(b"evidence bundle").digest()),
        "standard_of_proof": {
            "reasonable_grounds": True,
            "rigorous_evidence": True,
            "recognised_category": True,
            "action_taken": True,
        },
    }
    body.update(overrides)
    return body
