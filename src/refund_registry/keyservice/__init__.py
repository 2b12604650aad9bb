"""The key service: evaluates the OPRF behind pseudonyms (docs/keyservice.md, docs/contract.md).

``service`` is the use case (rate limit, evaluate, count); ``app`` is its own
small Litestar app and ``run_keyservice``, the process ``refund-registry
keyservice`` runs. Nothing here is imported by the API process, which only
forwards requests (``refund_registry.http.keyservice_proxy``).
"""

from typing import Final

MAX_BODY_BYTES: Final = 32 * 1024
"""Largest evaluation request accepted (by the key service and by the API's proxy).

A full batch of 100 elements is under 5 KiB of JSON; anything far larger is
not an evaluation and is refused before it is read.
"""
