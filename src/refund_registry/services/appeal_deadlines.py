"""The deadline worker: closes open appeals that nobody may leave open any longer.

Run periodically (``refund-registry`` maintenance, tests and drills call it
directly). Every transition it makes is logged in the access log in the same
transaction, under the system actor: it acts on nobody's signed request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

import asyncpg

from refund_registry.domain import appeals as machine
from refund_registry.domain.access import AccessRecord, encode
from refund_registry.services.appeal_closing import apply_transition, close_moot
from refund_registry.services.appeal_views import to_domain
from refund_registry.services.locking import SubjectsChanged, lock_subjects, notify
from refund_registry.storage import appeals as appeal_rows
from refund_registry.storage.accesslog import copy_entries
from refund_registry.storage.db import translated

SYSTEM_ACTOR: Final = "system"
NO_SIGNED_REQUEST: Final = "-"

_OPEN: Final = frozenset(s.value for s in machine.OPEN_STATES)


async def run_deadlines(
    pool: asyncpg.Pool,
    as_of: datetime,
    *,
    batch: int = 100,
    listeners: Iterable[SubjectsChanged] = (),
) -> int:
    """Close every open appeal that is due at ``as_of``; return how many were closed.

    Two kinds are due: those whose governing deadline has passed (the domain's
    ``deadline`` transition: the report is overturned), and those whose report
    the ledger already took off the record by another route (retracted or
    expired while the appeal was open; see ``appeal_closing.close_for_retraction``).

    Idempotent: a second run as of the same time finds nothing to do. Safe in
    several processes at once: each batch claims its report rows with
    ``FOR UPDATE SKIP LOCKED`` (report first, as everywhere), then locks every
    subject key of the batch in key order before changing anything.
    Precondition: ``as_of`` is timezone-aware.
    """
    total = 0
    while True:
        entries: list[AccessRecord] = []
        touched: list[bytes] = []
        async with translated(), pool.acquire() as conn, conn.transaction():
            claimed = await appeal_rows.claim_due(conn, as_of, batch)
            if not claimed:
                break
            await lock_subjects(conn, sorted({k for r in claimed for k in r.subject_keys}))
            appeals = await appeal_rows.get_many(conn, [c.appeal_id for c in claimed])
            for report in claimed:  # each claimed row is the locked report of its appeal
                row = appeals[report.appeal_id]
                keys = list(report.subject_keys)
                if row.state not in _OPEN:
                    continue  # closed between the claim's snapshot and its lock
                if report.status != "disputed":
                    reason = await close_moot(conn, row, report.status, keys, as_of, by="system")
                    touched.extend(keys)
                else:
                    try:
                        step = machine.transition(
                            to_domain(row), machine.AppealAction.DEADLINE,
                            machine.ActorRole.SYSTEM, as_of,
                        )  # fmt: skip
                    except machine.IllegalTransition:
                        continue  # the state moved on and is no longer due
                    missed = machine.DUE_FIELD[machine.AppealState(row.state)]
                    touched.extend(
                        await apply_transition(conn, row, keys, step, as_of,
                                               {"by": "system", "missed": missed})
                    )  # fmt: skip
                    reason = f"{missed}_passed"
                entries.append(
                    AccessRecord(
                        at=as_of,
                        actor=SYSTEM_ACTOR,
                        role=machine.ActorRole.SYSTEM.value,
                        action="appeal.deadline",
                        request_digest=NO_SIGNED_REQUEST,
                        subject_keys=keys,
                        outcome=machine.AppealState.OVERTURNED.value,
                        detail={"appeal_id": row.id, "reason": reason},
                    )
                )
            # Logged in the same transaction as the transitions they record.
            await copy_entries(conn, [encode(e) for e in entries])
        if not entries:
            break  # everything claimed had moved on; nothing left that is due
        await notify(listeners, sorted(set(touched)))
        total += len(entries)
    return total
