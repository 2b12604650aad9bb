"""The buyer's side of the registry: subject access, appeals, statements.

``AppealService`` is the one entry point for the HTTP layer and the workers:
subject access (``services.subject_access``), the appeal use cases
(``services.appeal_cases``) and the deadline worker
(``services.appeal_deadlines``), over one pool, keyring, access log and clock.

Who may see what is decided in the domain (``domain.appeal_access``), not in
HTTP: a buyer is anyone holding a subject token that names one of the
report's subject keys; the reporting member is the principal that filed the
report; adjudicators see every appeal. Everyone else gets the same 404 as
for an appeal that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from refund_registry.domain import appeals as machine
from refund_registry.domain.keyring import Keyring
from refund_registry.services.appeal_cases import AppealCases
from refund_registry.services.appeal_deadlines import run_deadlines
from refund_registry.services.locking import SubjectsChanged
from refund_registry.services.parties import Party, Subject
from refund_registry.services.subject_access import SubjectAccess
from refund_registry.storage.accesslog import AccessLog

__all__ = ["AppealService", "Party", "Subject"]


@dataclass
class AppealService(SubjectAccess, AppealCases):
    """Subject access and the appeal use cases; one instance per process.

    ``clock`` is read once per use case (tests and drills replace it);
    ``listeners`` hear the subject keys whose aggregates changed, after commit,
    as the ledger's do.
    """

    pool: asyncpg.Pool
    keyring: Keyring
    access_log: AccessLog
    policy: machine.DeadlinePolicy = field(default_factory=machine.DeadlinePolicy)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    listeners: list[SubjectsChanged] = field(default_factory=list)

    async def run_deadlines(self, as_of: datetime, *, batch: int = 100) -> int:
        """Close the open appeals due at ``as_of`` (``appeal_deadlines.run_deadlines``)."""
        return await run_deadlines(self.pool, as_of, batch=batch, listeners=self.listeners)
