"""The reports the benchmarks file: the tests' factory, with a bench's own mix of fields.

Two identifiers each, a random evidence digest, dates relative to one ``now``:
the figures in docs/performance.md were measured with exactly these bodies.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from tests.support.factories import b64url, ident, pseudonym, report_body


def report(now: datetime) -> dict[str, Any]:
    return report_body(
        now=now,
        case_reference="bench-" + secrets.token_hex(8),
        identifiers=[ident(pseudonym()), ident(pseudonym(), "email")],
        category="fabricated_damage_claim",
        amount={"minor_units": 25_900, "currency": "CNY"},
        order_date=(now - timedelta(days=9)).date().isoformat(),
        refund_date=(now - timedelta(days=5)).date().isoformat(),
        confirmed_at=(now - timedelta(days=1)).isoformat(),
        buyer_notified_at=(now - timedelta(hours=2)).isoformat(),
        evidence_kinds=["photo_forensics", "carrier_record"],
        evidence_digest=b64url(hashlib.sha256(secrets.token_bytes(8)).digest()),
    )
