"""A buyer's access to their own record, and their statement on it.

A buyer is shown exactly what sits under the subject keys of their token's
pseudonyms, nothing reached through another identifier. Reads are logged in
the access log before the answer leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
from refund_registry.services.authn import Caller
from refund_registry.services.locking import SubjectsChanged, lock_subjects, notify
from refund_registry.services.parties import Subject, entry
from refund_registry.storage import aggregates, inquiries
from refund_registry.storage import appeals as appeal_rows
from refund_registry.storage import reports as report_rows
from refund_registry.storage.accesslog import AccessLog, write_in_transaction
from refund_registry.storage.db import translated

INQUIRY_WINDOW: Final = timedelta(days=365)
"""How far back a buyer sees the inquiries about them (12 months)."""


class SubjectAccess:
    """Subject access use cases (composed into ``services.appeals.AppealService``)."""

    pool: asyncpg.Pool
    keyring: Keyring
    access_log: AccessLog
    clock: Callable[[], datetime]
    listeners: list[SubjectsChanged]

    def subject(self, caller: Caller, pseudonyms: Sequence[Mapping[str, str]]) -> Subject:
        """Turn a verified token's pseudonyms into subject keys.

        Precondition: ``caller`` and ``pseudonyms`` come from
        ``Authenticator.subject``, which checked the signature and the shape.
        A pseudonym of an unknown kind or not 64 bytes of base64url makes the
        whole token unusable (401): the issuing member minted it wrongly, and
        silently dropping an identifier would hide part of the buyer's record.
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
            keys.add(self.keyring.subject_key(raw))
        return Subject(caller=caller, keys=tuple(sorted(keys)))

    async def record(self, subject: Subject) -> dict[str, Any]:
        """Everything on record under the token's keys: reports, inquiries, appeals.

        Read in one repeatable-read snapshot, so the three lists agree with
        each other; logged as ``subject.access`` before it is returned.
        """
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
            "inquiries": [
                {"member": r.member_name, "at": iso(r.at), "purpose": r.purpose} for r in asked
            ],
            "appeals": [appeal_summary(a) for a in appeals],
            "statement": statement,
        }
        await self.access_log.append(
            entry(subject, "subject.access", now, subject.keys, outcome="ok")
        )
        return answer

    async def set_statement(self, subject: Subject, statement: str | None) -> dict[str, Any]:
        """Attach (or, with ``None``, remove) the buyer's statement on the token's subjects.

        Allowed only once an appeal filed under one of the token's keys ended
        ``upheld``: the statement is the buyer's answer to a decision against
        them, not a second appeal channel. It is stored on every aggregate row
        the token names (a key with nothing on record has no row, and gets
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
