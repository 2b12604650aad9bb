"""The member SDK: normalise, pseudonymise, sign and call (docs/contract.md, docs/api.md).

What a member platform installs and imports. It depends on nothing a member
does not need: no web framework, no database or Redis driver and no server
module of the registry are imported (a test checks this).

Typical use::

    from refund_registry.client import RegistryClient, Signer

    signer = Signer(member_id, kid, private_key)
    with RegistryClient(url, signer, keyservice_public_key=pinned) as rr:
        phone = rr.pseudonymise("phone", "+86 138-1234-5678")
        answer = rr.query([{"kind": "phone", "pseudonym": phone}], "refund_decision")

``pinned`` is the key service's public key, stored in the member's
configuration after checking it once (:func:`fetch_keyservice_public_key`).
Typed calls answer frozen results (:mod:`refund_registry.client.results`)
that keep the HTTP status and headers.

Errors: a bad identifier raises :class:`IdentifierRejected` before any network
call, and so does pseudonymising without a pinned key
(:class:`KeyServiceKeyMissing`); a key-service answer that does not verify
raises :class:`ProofInvalid`; an error answer from the registry raises
:class:`RegistryApiError`.
"""

from refund_registry.client.pseudonyms import PseudonymCache
from refund_registry.client.receipts import check_receipt_signature
from refund_registry.client.results import (
    Amount,
    ApiResult,
    AppealQueuePage,
    BulkFiled,
    Counts,
    Event,
    EventPage,
    Filed,
    ListedReport,
    QueuedAppeal,
    Reason,
    Receipt,
    ReportPage,
    Retracted,
    RiskAnswer,
    RiskBatch,
)
from refund_registry.client.sdk import (
    AsyncRegistryClient,
    KeyServiceKeyMissing,
    RegistryApiError,
    RegistryClient,
    RetryPolicy,
    UnexpectedAnswer,
    afetch_keyservice_public_key,
    fetch_keyservice_public_key,
)
from refund_registry.client.signing import Signer
from refund_registry.domain.identity import KINDS, IdentifierRejected, normalise
from refund_registry.domain.oprf import ProofInvalid

__all__ = [
    "KINDS",
    "Amount",
    "ApiResult",
    "AppealQueuePage",
    "AsyncRegistryClient",
    "BulkFiled",
    "Counts",
    "Event",
    "EventPage",
    "Filed",
    "IdentifierRejected",
    "KeyServiceKeyMissing",
    "ListedReport",
    "ProofInvalid",
    "PseudonymCache",
    "QueuedAppeal",
    "Reason",
    "Receipt",
    "RegistryApiError",
    "RegistryClient",
    "ReportPage",
    "Retracted",
    "RetryPolicy",
    "RiskAnswer",
    "RiskBatch",
    "Signer",
    "UnexpectedAnswer",
    "afetch_keyservice_public_key",
    "check_receipt_signature",
    "fetch_keyservice_public_key",
    "normalise",
]
