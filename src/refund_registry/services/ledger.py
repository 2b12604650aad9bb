"""The report ledger: filing (``services.intake``) and a report's life after it
(``services.report_lifecycle``), over one pool, keyring and clock.

Each use case is one transaction: load → decide (pure domain rules) → persist,
with the ledger event written in the same transaction as the state change,
and locks taken in the order of ``services.locking``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import reports as rules
from refund_registry.domain.keyring import Keyring
from refund_registry.services.intake import Intake
from refund_registry.services.locking import SubjectsChanged
from refund_registry.services.report_lifecycle import ReportLifecycle


@dataclass
class Ledger(Intake, ReportLifecycle):
    """One per process. ``clock`` is read once per use case (tests and drills
    replace it); ``listeners`` hear the subject keys whose aggregates changed,
    after commit; with ``log_key`` filings and retractions carry a signed
    access-log receipt."""

    pool: asyncpg.Pool
    keyring: Keyring
    retention: rules.RetentionPolicy = field(default_factory=rules.RetentionPolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    listeners: list[SubjectsChanged] = field(default_factory=list)
    log_key: ed25519.Ed25519PrivateKey | None = None
