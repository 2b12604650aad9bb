"""The parties to subject access and appeals: buyers and principals.

Who may see what is decided in ``domain.appeal_access``; this module binds it
to the verified callers that authentication produces, and writes the
access-log record of what a party did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from refund_registry.domain import appeal_access
from refund_registry.domain import appeals as machine
from refund_registry.domain.access import AccessRecord
from refund_registry.services.authn import Caller


@dataclass(frozen=True, slots=True)
class Subject:
    """A buyer in a session: what they proved, and how they came in.

    ``keys`` are the subject keys of the pseudonyms proved (a one-time code
    proves one identifier; a hand-off names up to ten), sorted and unique; a
    buyer is shown exactly what sits under these keys and nothing reached
    through another identifier (no transitive linking). ``session_id`` is the
    session's public id, never its bearer value. ``via_member`` is the member
    that handed the buyer over, ``None`` when the buyer signed in directly;
    everything done in a hand-off session is recorded as done via that member.
    """

    keys: tuple[bytes, ...]
    session_id: str
    via_member: str | None = None


DIRECT_ACTOR: Final = "buyer"
"""The access-log actor of a buyer who signed in directly, with a one-time code."""

Party = Subject | Caller
"""Who is acting: a buyer (``Subject``) or a principal with a signed request."""


def standing(
    party: Party,
    appeal_id: str,
    report_member: str | None,
    report_keys: Sequence[bytes],
) -> tuple[machine.ActorRole, list[bytes]]:
    """The party's role in the appeal and the subject keys its access touches;
    the one 404 for any stranger (``report_member`` None: no such appeal)."""
    if isinstance(party, Subject):
        return appeal_access.standing(appeal_id, report_member, report_keys, buyer=party.keys)
    return appeal_access.standing(
        appeal_id, report_member, report_keys, principal=(party.principal_id, party.role)
    )


def entry(
    party: Party,
    action: str,
    at: datetime,
    keys: Sequence[bytes],
    *,
    outcome: str,
    appeal: str | None = None,
    purpose: str | None = None,
) -> AccessRecord:
    """The access-log record of ``party`` doing ``action`` to these subjects.

    A buyer's entry names as its actor the member that handed them over
    (detail ``via``), or ``buyer`` for a direct sign-in, and as its request the
    session's public id: an auditor sees every look through a member under
    that member's name, and can group a session's entries. A principal acting
    in the staff console is recorded under its own id with detail
    ``via: console`` and the console session's public id as its request, so
    an auditor tells console work from signed API calls.
    """
    detail: dict[str, str] = {"appeal_id": appeal} if appeal else {}
    if isinstance(party, Subject):
        if party.via_member is not None:
            detail["via"] = party.via_member
        return AccessRecord(
            at=at,
            actor=party.via_member or DIRECT_ACTOR,
            role="buyer",
            action=action,
            request_digest=party.session_id,
            subject_keys=list(keys),
            outcome=outcome,
            purpose=purpose,
            detail=detail,
        )
    if party.via is not None:
        detail["via"] = party.via
    return AccessRecord(
        at=at,
        actor=party.principal_id,
        role=party.role,
        action=action,
        request_digest=party.request_digest,
        issuer=party.principal_id,
        jti=party.jti,
        subject_keys=list(keys),
        outcome=outcome,
        purpose=purpose,
        detail=detail,
    )
