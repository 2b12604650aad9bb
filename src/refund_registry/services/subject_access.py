"""A buyer's access to their own record, and their statement on it.

A buyer is shown exactly what sits under the subject keys their session
proved, nothing reached through another identifier. Every read is logged in
the access log before the answer leaves; a read in a session a member handed
over is logged under that member's name and counts against its daily query
quota, exactly as a risk query would, so looking through hand-offs is no way
around the quota, the buyer's inquiry list or the auditors' summary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import asyncpg

from refund_registry.domain import appeals as machine
from refund_registry.domain import reports as rules
from refund_registry.domain import tokens
from refund_registry.domain.identity import KINDS
from refund_registry.domain.keyring import Keyring
from refund_registry.domain.wire import iso
from refund_registry.errors import Conflict
from refund_registry.services.appeal_views import appeal_summary, record_report
from refund_registry.services.locking import SubjectsChanged, lock_subjects, notify
from refund_registry.services.parties import Subject, entry
from refund_registry.storage import aggregates, inquiries
from refund_registry.storage import appeals as appeal_rows
from refund_registry.storage import reports as report_rows
from refund_registry.storage.accesslog import AccessLog, write_in_transaction
from refund_registry.storage.db import translated

INQUIRY_WINDOW: Final = timedelta(days=365)
"""How far back a buyer sees the inquiries about them (12 months)."""


ACCESS_PURPOSE: Final = "subject_access"
"""The purpose logged with every read of a buyer's record by the buyer's session."""

QuotaCharge = Callable[[str, int], Awaitable[Any]]
"""Spends units of a member's query quota, or raises ``RateLimited`` (spending nothing)."""


def subject_keys(keyring: Keyring, pseudonyms: Sequence[Mapping[str, str]]) -> tuple[bytes, ...]:
    """The sorted, unique subject keys of a subject token's pseudonyms.

    Precondition: ``pseudonyms`` come from ``Authenticator.subject``, which
    checked the signature and the shape. A pseudonym of an unknown kind or not
    64 bytes of base64url makes the whole token unusable (401): the issuing
    member minted it wrongly, and silently dropping an identifier would hide
    part of the buyer's record.
    """
    keys: set[bytes] = set()
    for index, item in enumerate(pseudonyms):
        raw = rules.b64url_decode(item["value"])
        if item["kind"] not in KINDS or raw is None or len(raw) != rules.PSEUDONYM_BYTES:
            raise tokens.fail(
                "pseudonym",
                f"pseudonyms[{index}] must have a known kind and an 86-character "
                "base64url pseudonym",
            )
        keys.add(keyring.subject_key(raw))
    return tuple(sorted(keys))


def inquiry_item(row: inquiries.Inquiry) -> dict[str, Any]:
    """One line of the buyer's inquiry list: who looked, when, why and how."""
    return {"member": row.member_name, "at": iso(row.at), "purpose": row.purpose, "how": row.how}


class SubjectAccess:
    """Subject access use cases (composed into ``services.appeals.AppealService``).

    ``charge_query`` spends the query quota of the looking member's
    organisation; the runtime sets it (``services.quotas.OrgQuota``). Without
    it (tools, tests of other rules) reads are not charged.
    """

    pool: asyncpg.Pool
    keyring: Keyring
    access_log: AccessLog
    clock: Callable[[], datetime]
    listeners: list[SubjectsChanged]
    charge_query: QuotaCharge | None = None

    async def record(self, subject: Subject) -> dict[str, Any]:
        """Everything on record under the session's keys: reports, inquiries, appeals.

        Read in one repeatable-read snapshot, so the three lists agree with
        each other; logged as ``subject.access`` before it is returned. In a
        hand-off session the member's organisation is charged first, one
        query unit per subject key read (as a risk query is charged per
        identifier), so a member over its quota gets a 429 and reads nothing.
        """
        if subject.via_member is not None and self.charge_query is not None:
            await self.charge_query(subject.via_member, max(len(subject.keys), 1))
        now = self.clock()
        keys = list(subject.keys)
        async with (
            translated(),
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            reports = await report_rows.subject_reports(conn, keys)
            asked = await inquiries.of_subjects(conn, keys, now - INQUIRY_WINDOW)
            appeals = await appeal_rows.of_reports(conn, [r.id for r in reports])
            statement = await aggregates.statement_of(conn, keys)
        answer = {
            "reports": [record_report(r) for r in reports],
            "inquiries": [inquiry_item(r) for r in asked],
            "appeals": [appeal_summary(a) for a in appeals],
            "statement": statement,
        }
        await self.access_log.append(
            entry(
                subject, "subject.access", now, subject.keys, outcome="ok", purpose=ACCESS_PURPOSE
            )
        )
        return answer

    async def set_statement(self, subject: Subject, statement: str | None) -> dict[str, Any]:
        """Attach (or, with ``None``, remove) the buyer's statement on the session's subjects.

        Allowed only once an appeal filed under one of the session's keys ended
        ``upheld``: the statement is the buyer's answer to a decision against
        them, not a second appeal channel. It is stored on every aggregate row
        the session holds (a key with nothing on record has no row, and gets
        none: there is nothing for a statement to explain).
        """
        machine.check_subject_statement(statement)
        now = self.clock()
        keys = list(subject.keys)
        async with translated(), self.pool.acquire() as conn, conn.transaction():
            if not await appeal_rows.upheld_exists(conn, keys):
                raise Conflict(
                    "a statement can be attached only after an appeal was decided against "
                    "you (upheld)",
                    code="subject.statement_not_allowed",
                )
            # Lock in key order before the UPDATE, as every aggregate writer does.
            await lock_subjects(conn, keys)
            stored = await aggregates.set_statement(conn, keys, statement)
            await write_in_transaction(
                conn,
                entry(
                    subject,
                    "subject.statement",
                    now,
                    stored,
                    outcome="set" if statement is not None else "removed",
                ),
            )
        if stored:
            await notify(self.listeners, stored)
        return {"statement": statement, "subjects": len(stored), "updated_at": iso(now)}
