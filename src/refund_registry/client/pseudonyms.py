"""Turning buyer identifiers into pseudonyms, minus the network (docs/contract.md, "Pseudonyms").

The steps are normalise → blind → (key service evaluates) → verify the proof →
finalise. Everything but the evaluation is here, pure and synchronous, so the
sync and async clients share it and only differ in how they send one request.

The cache maps an OPRF input (``kind|1|normalised``) to its pseudonym. It lives
in this process's memory only, is bounded (least recently used entries go
first) and is tied to one pinned public key: a client built for another key
starts with an empty cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from refund_registry.domain import identity, oprf
from refund_registry.errors import InvalidInput

EVALUATE_PATH = "/v1/keyservice/evaluate"
PUBLIC_KEY_PATH = "/v1/keyservice/public-key"


class PseudonymCache:
    """A thread-safe LRU of ``oprf input → pseudonym``; ``max_entries=0`` disables it.

    A member's own buyers come back again and again (the refund-time query
    follows the order's report), so most look-ups need no key-service call.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must not be negative")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, str] = OrderedDict()
        # The sync client may be shared by threads; an OrderedDict reordered
        # by two threads at once can lose entries.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> str | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: bytes, value: str) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class Plan:
    """One ``pseudonymise_many`` call: the inputs in request order and what is still missing."""

    inputs: list[bytes]
    found: dict[bytes, str]
    missing: list[bytes] = field(default_factory=list)

    def batches(self) -> list[list[bytes]]:
        """The missing inputs in key-service-sized batches."""
        size = oprf.MAX_BATCH
        return [self.missing[i : i + size] for i in range(0, len(self.missing), size)]

    def results(self) -> list[str]:
        """Pseudonyms in request order; precondition: every batch has been completed."""
        return [self.found[data] for data in self.inputs]


def plan(
    pairs: Iterable[tuple[str, str]], cache: PseudonymCache, *, default_region: str = "CN"
) -> Plan:
    """Normalise every identifier and look each up in the cache.

    Every identifier is normalised before any network call, so one bad value
    (``IdentifierRejected``, naming the kind and the rule) fails the whole call
    without spending quota. Duplicates are evaluated once.
    """
    inputs = [
        identity.oprf_input(kind, identity.normalise(kind, value, default_region=default_region))
        for kind, value in pairs
    ]
    found: dict[bytes, str] = {}
    missing: dict[bytes, None] = {}  # an ordered set
    for data in inputs:
        if data in found or data in missing:
            continue
        cached = cache.get(data)
        if cached is None:
            missing[data] = None
        else:
            found[data] = cached
    return Plan(inputs=inputs, found=found, missing=list(missing))


def evaluation_body(blinded: Sequence[bytes]) -> dict[str, Any]:
    return {"blinded": [oprf.b64e(element) for element in blinded]}


def complete(
    work: Plan,
    batch: Sequence[bytes],
    state: oprf.BlindState,
    answer: Any,
    public_key: bytes,
    cache: PseudonymCache,
) -> None:
    """Verify the key service's ``answer`` for ``batch`` and record the pseudonyms.

    Raises :class:`~refund_registry.domain.oprf.ProofInvalid` for an answer
    that does not verify against ``public_key`` or is not even shaped like one:
    such pseudonyms would silently match nobody, so none of the batch is used.
    """
    evaluated, proof = _parse_answer(answer)
    outputs = oprf.finalize(state, evaluated, proof, public_key)
    for data, output in zip(batch, outputs, strict=True):
        pseudonym = oprf.pseudonym_to_str(output)
        work.found[data] = pseudonym
        cache.put(data, pseudonym)


def parse_public_key(answer: Any) -> bytes:
    """The key from a ``GET /v1/keyservice/public-key`` answer, checked for suite and validity."""
    if not isinstance(answer, dict) or answer.get("suite") != oprf.SUITE:
        raise oprf.InvalidKey(f"the key service does not publish a {oprf.SUITE} key")
    text = answer.get("public_key")
    if not isinstance(text, str):
        raise oprf.InvalidKey("the key service's answer has no 'public_key'")
    return oprf.check_public_key(oprf.b64d(text, field_name="public_key"))


def pin_public_key(public_key: bytes | str) -> bytes:
    """A configured public key (raw bytes or unpadded base64url), checked at construction."""
    raw = (
        oprf.b64d(public_key, field_name="public_key")
        if isinstance(public_key, str)
        else public_key
    )
    return oprf.check_public_key(raw)


def _parse_answer(answer: Any) -> tuple[list[bytes], bytes]:
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("evaluated"), list)
        or not isinstance(answer.get("proof"), str)
        or not all(isinstance(e, str) for e in answer["evaluated"])
    ):
        raise oprf.ProofInvalid(
            "the key service's answer is not {evaluated: [...], proof}",
            extra={"reason": "shape"},
        )
    try:
        evaluated = [oprf.b64d(e) for e in answer["evaluated"]]
        proof = oprf.b64d(answer["proof"])
    except InvalidInput:
        raise oprf.ProofInvalid(
            "the key service's answer is not base64url", extra={"reason": "encoding"}
        ) from None
    return evaluated, proof
