"""The member SDK: normalise, pseudonymise, sign and call (SPEC sections 3 and 10).

What a member platform installs and imports. It depends on nothing a member
does not need: no web framework, no database or Redis driver and no server
module of the registry are imported (a test checks this).

Typical use::

    from refund_registry.client import RegistryClient, Signer

    with RegistryClient(url, Signer(member_id, kid, private_key), public_key=pinned) as rr:
        pseudonym = rr.pseudonymise("phone", "+86 138-1234-5678")

Errors: a bad identifier raises :class:`IdentifierRejected` before any network
call; a key-service answer that does not verify raises :class:`ProofInvalid`;
an error answer from the registry raises :class:`RegistryApiError`.
"""

from refund_registry.client.pseudonyms import PseudonymCache
from refund_registry.client.sdk import (
    AsyncRegistryClient,
    RegistryApiError,
    RegistryClient,
    RetryPolicy,
)
from refund_registry.client.signing import Signer
from refund_registry.domain.identity import KINDS, IdentifierRejected, normalise
from refund_registry.domain.oprf import ProofInvalid

__all__ = [
    "KINDS",
    "AsyncRegistryClient",
    "IdentifierRejected",
    "ProofInvalid",
    "PseudonymCache",
    "RegistryApiError",
    "RegistryClient",
    "RetryPolicy",
    "Signer",
    "normalise",
]
