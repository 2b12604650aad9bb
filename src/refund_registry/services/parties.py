"""The parties to subject access and appeals: buyers and principals.

Who may see what is decided in ``domain.appeal_access``; this module binds it
to the verified callers that authentication produces, and writes the
access-log record of what a party did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from refund_registry.domain import appeal_access
from refund_registry.domain import appeals as machine
from refund_registry.domain.access import AccessRecord
from refund_registry.services.authn import Caller


@dataclass(frozen=True, slots=True)
class Subject:
    """A buyer, as a verified subject token names them.

    ``keys`` are the subject keys of the token's pseudonyms, sorted and
    unique; a buyer is shown exactly what sits under these keys and nothing
    reached through another identifier (no transitive linking).
    """

    caller: Caller
    keys: tuple[bytes, ...]


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
) -> AccessRecord:
    """The access-log record of ``party`` doing ``action`` to these subjects."""
    caller = party.caller if isinstance(party, Subject) else party
    return AccessRecord(
        at=at,
        actor=caller.principal_id,
        role="buyer" if isinstance(party, Subject) else caller.role,
        action=action,
        request_digest=caller.request_digest,
        subject_keys=list(keys),
        outcome=outcome,
        detail={"appeal_id": appeal} if appeal else {},
    )
