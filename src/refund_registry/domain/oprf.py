"""The verifiable OPRF behind pseudonyms: RFC 9497, mode VOPRF, ristretto255-SHA512.

A pseudonym is ``Finalize(oprf_input(kind, value))`` under the key service's key
(docs/privacy.md). The member blinds its inputs, the key service evaluates the
blinded points without seeing them and proves with one batched DLEQ proof that
it used the key behind its published public key, and the member unblinds.

This module is a thin, pure wrapper around the ``voprf`` package (Rust ``voprf``
crate over ``curve25519-dalek``, bound with PyO3). It exists for three reasons:

* the public API takes and returns plain ``bytes`` in RFC 9497 serialisation, so
  the HTTP layer and the SDK never touch the package's opaque objects;
* the package raises bare ``ValueError`` (or panics, below); here every failure a
  caller can provoke becomes a domain error with a stable code;
* it pins facts about the package that are not in its documentation (checked in
  ``tests/unit/test_oprf.py`` against the RFC vectors and an independent
  reference implementation):

  - the batch answer serialises as ``proof || evaluated_1 || ... || evaluated_n``:
    the 64-byte proof (``c || s``, two little-endian scalars) comes *first*;
  - ``Evaluator(seed)`` is ``DeriveKeyPair(seed, info=b"")``, and both accept any
    seed of 16 bytes or more despite documenting "exactly 32", so the length is
    checked here;
  - an empty batch is evaluated without complaint but the result cannot be
    deserialised again, so empty batches are refused here;
  - ``Client.finalize_batch`` does not raise ``ValueError`` on a bad proof (as
    ``Client.finalize`` does) but *panics*: pyo3 turns that into
    ``pyo3_runtime.PanicException``, a ``BaseException``, and the Rust panic hook
    prints to stderr. :func:`finalize` converts exactly that panic.

No I/O and no clock. Blinding uses the package's (operating-system) randomness.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from voprf import ristretto

from refund_registry.domain.wire import b64url, b64url_decode
from refund_registry.errors import InvalidInput, MalformedBody, RegistryError

SUITE: Final = "ristretto255-SHA512"
"""RFC 9497 ciphersuite identifier, as published at ``/v1/keyservice/public-key``."""

ELEMENT_LEN: Final = 32
"""Serialised ristretto255 element (blinded and evaluated elements, public key)."""
SCALAR_LEN: Final = 32
PROOF_LEN: Final = 2 * SCALAR_LEN
"""Serialised DLEQ proof: ``c || s``."""
OUTPUT_LEN: Final = 64
"""OPRF output (SHA-512), i.e. the pseudonym."""
SEED_LEN: Final = 32
"""Secret seed from which the key service's key pair is derived."""
PSEUDONYM_TEXT_LEN: Final = 86
"""Unpadded base64url length of a 64-byte pseudonym."""

MAX_BATCH: Final = 100
"""Most elements in one evaluation request (docs/contract.md: 1-100)."""
MAX_INPUT_LEN: Final = 0xFFFF
"""RFC 9497 length-prefixes inputs with two bytes."""

KEY_INFO: Final = b"refund-registry keyservice v1"
"""The ``info`` of ``DeriveKeyPair``.

The key is derived with :meth:`voprf.ristretto.Evaluator.from_seed` rather than
built by the plain constructor: both run RFC 9497 ``DeriveKeyPair``, but naming
the info string domain-separates our key from any other use of the same seed, and
a ``v2`` info gives a fresh key from the same backed-up seed if a rotation must
be forced. The seed (32 bytes from a CSPRNG) is the only secret to store.
"""


class InvalidElement(InvalidInput):
    """A blinded element sent to the key service is not a valid group element.

    ``extra["index"]`` is the position of the first bad element in the request,
    ``extra["reason"]`` says whether the length or the encoding was wrong. The
    identity element is refused too (RFC 9497 section 2.1, DeserializeElement).
    """

    code = "keyservice.invalid_element"
    title = "Invalid blinded element"


class InvalidBatch(InvalidInput):
    """A batch is empty or larger than :data:`MAX_BATCH`."""

    code = "keyservice.invalid_batch"
    title = "Invalid evaluation batch"


class InvalidOprfInput(InvalidInput):
    """An input to blind is empty or longer than RFC 9497 allows."""

    code = "oprf.invalid_input"
    title = "Invalid OPRF input"


class InvalidKey(InvalidInput):
    """A key seed or a public key has the wrong length or encoding."""

    code = "keyservice.invalid_key"
    title = "Invalid key material"


class ProofInvalid(RegistryError):
    """The key service's answer does not verify against the expected public key.

    Raised for a proof that fails (typically: the answer was computed with a
    different key, or tampered with in transit) and for an answer that cannot
    even be checked (wrong count, wrong lengths, non-canonical encodings). In
    either case the pseudonyms must not be used: they would silently match
    nobody, or match under someone else's key.
    """

    code = "keyservice.proof_invalid"
    title = "Key service proof did not verify"


class InvalidBase64(MalformedBody):
    """A binary field is not canonical unpadded base64url."""

    code = "request.invalid_base64"
    title = "Invalid base64url"


class InvalidPseudonym(InvalidInput):
    """A pseudonym is not 64 bytes (86 base64url characters)."""

    code = "pseudonym.invalid"
    title = "Invalid pseudonym"


@dataclass(frozen=True, slots=True)
class ServerKey:
    """The key service's secret key, ready to evaluate, and its public key.

    Built only by :func:`load_server_key`. The evaluator is kept out of ``repr``
    so that a stray log line cannot print anything about the key.
    """

    evaluator: ristretto.Evaluator = field(repr=False)
    public_key: bytes
    """RFC 9497 ``SerializeElement(pkS)``, 32 bytes; publish as unpadded base64url."""


@dataclass(frozen=True, slots=True)
class BlindState:
    """What the client must keep between :func:`blind` and :func:`finalize`.

    Holds the secret blinds (inside the package's ``Client`` objects): never
    serialise, log or reuse it for another request.
    """

    clients: tuple[ristretto.Client, ...] = field(repr=False)
    blinded: tuple[bytes, ...]


def new_seed() -> bytes:
    """A fresh secret seed for :func:`load_server_key`, from the OS CSPRNG."""
    return secrets.token_bytes(SEED_LEN)


def load_server_key(seed: bytes, *, info: bytes = KEY_INFO) -> ServerKey:
    """Derive the key service's key pair from its secret seed (RFC 9497 DeriveKeyPair).

    Precondition: ``seed`` is exactly :data:`SEED_LEN` bytes of CSPRNG output.
    The package would accept any length from 16 bytes up; anything but 32 here
    is a configuration mistake (a hex string passed undecoded, a truncated
    secret) and is refused rather than turned into a valid but different key.
    """
    if len(seed) != SEED_LEN:
        raise InvalidKey(f"key seed must be exactly {SEED_LEN} bytes, got {len(seed)}")
    if len(info) > MAX_INPUT_LEN - SEED_LEN - 3:
        raise InvalidKey("key info is too long")
    evaluator = ristretto.Evaluator.from_seed(seed, info)
    return ServerKey(evaluator=evaluator, public_key=evaluator.public_key.serialize())


def check_batch_shape(blinded: Sequence[bytes]) -> None:
    """1 to :data:`MAX_BATCH` elements of :data:`ELEMENT_LEN` bytes each.

    The cheap part of the checks, which the key service runs before charging
    a member's quota; :func:`evaluate_batch` adds the validity of each point.
    """
    if not 1 <= len(blinded) <= MAX_BATCH:
        raise InvalidBatch(
            f"a batch must hold 1 to {MAX_BATCH} blinded elements, got {len(blinded)}",
            extra={"count": len(blinded), "max": MAX_BATCH},
        )
    for index, element in enumerate(blinded):
        if len(element) != ELEMENT_LEN:
            raise InvalidElement(
                f"blinded element {index} must be {ELEMENT_LEN} bytes, got {len(element)}",
                extra={"index": index, "reason": "length"},
            )


def evaluate_batch(key: ServerKey, blinded: Sequence[bytes]) -> tuple[list[bytes], bytes]:
    """Evaluate blinded elements under ``key`` with one batched DLEQ proof.

    Returns the evaluated elements (32 bytes each, in request order) and the
    64-byte proof. ``blinded`` comes straight from a member: each element is
    checked for length and validity first, so a bad one is reported by position
    (:class:`InvalidElement`) and never reaches the arithmetic.
    """
    check_batch_shape(blinded)
    inputs: list[ristretto.BlindedInput] = []
    for index, element in enumerate(blinded):
        try:
            inputs.append(ristretto.BlindedInput.deserialize(bytes(element)))
        except ValueError:
            raise InvalidElement(
                f"blinded element {index} is not a valid ristretto255 element",
                extra={"index": index, "reason": "encoding"},
            ) from None
    wire = key.evaluator.evaluate_batch(inputs).serialize()
    proof, elements = _split_batch(wire, len(inputs))
    return elements, proof


def evaluate_known_input(key: ServerKey, data: bytes) -> bytes:
    """RFC 9497 ``Evaluate``: the OPRF output for an input the caller knows.

    For the key service's own use only (tests, operator-side derivation after an
    offline identity check); members must go through :func:`blind` so that the
    key service never sees their inputs.
    """
    _check_input(0, data)
    return key.evaluator.evaluate_known_input(bytes(data))


def blind(inputs: Sequence[bytes]) -> tuple[BlindState, list[bytes]]:
    """Blind each input for the key service; returns the state and the 32-byte elements.

    Precondition: each input is an :func:`~refund_registry.domain.identity.oprf_input`
    (1 to 65535 bytes) and the batch holds 1 to :data:`MAX_BATCH` inputs. Fresh
    random blinds are drawn every call: two calls for the same input are unlinkable.
    """
    if not 1 <= len(inputs) <= MAX_BATCH:
        raise InvalidBatch(
            f"a batch must hold 1 to {MAX_BATCH} inputs, got {len(inputs)}",
            extra={"count": len(inputs), "max": MAX_BATCH},
        )
    clients: list[ristretto.Client] = []
    blinded: list[bytes] = []
    for index, data in enumerate(inputs):
        _check_input(index, data)
        client, element = ristretto.Client.blind(bytes(data))
        clients.append(client)
        blinded.append(element.serialize())
    return BlindState(clients=tuple(clients), blinded=tuple(blinded)), blinded


def finalize(
    state: BlindState, evaluated: Sequence[bytes], proof: bytes, public_key: bytes
) -> list[bytes]:
    """Verify the key service's answer and unblind it into 64-byte OPRF outputs.

    ``public_key`` must come from a trusted source (configuration pinned in the
    SDK, not the same response): the proof only shows that *some* key was used
    consistently, and it is the comparison with the expected key that makes the
    pseudonyms comparable across members. Raises :class:`ProofInvalid` for any
    answer that does not verify.
    """
    if len(evaluated) != len(state.clients):
        raise ProofInvalid(
            f"expected {len(state.clients)} evaluated elements, got {len(evaluated)}",
            extra={"reason": "count"},
        )
    if len(proof) != PROOF_LEN or any(len(e) != ELEMENT_LEN for e in evaluated):
        raise ProofInvalid(
            f"proof must be {PROOF_LEN} bytes and each element {ELEMENT_LEN} bytes",
            extra={"reason": "length"},
        )
    pk = _public_key(public_key)
    try:
        answer = ristretto.VerifiableBatchOutput.deserialize(
            bytes(proof) + b"".join(bytes(e) for e in evaluated)
        )
    except ValueError:
        raise ProofInvalid(
            "answer holds a non-canonical proof scalar or an invalid element",
            extra={"reason": "encoding"},
        ) from None
    try:
        outputs = ristretto.Client.finalize_batch(list(state.clients), answer, pk)
    except BaseException as exc:
        # voprf 0.2.0 unwraps the verification result inside finalize_batch, so a
        # bad proof surfaces as pyo3's PanicException (a BaseException, not an
        # Exception) after the Rust panic hook has written to stderr. Only that
        # exact panic, or the ValueError a fixed release would raise, means "proof
        # did not verify"; anything else (KeyboardInterrupt, ...) propagates.
        if not _is_proof_failure(exc):
            raise
        raise ProofInvalid(
            "proof does not verify against the expected public key",
            extra={"reason": "proof"},
        ) from None
    return list(outputs)


def check_public_key(public_key: bytes) -> bytes:
    """Return ``public_key`` unchanged if it is a valid serialised ristretto255 element.

    For configuration loading: a bad pinned key should fail at start-up, not at
    the first buyer lookup.
    """
    _public_key(public_key)
    return bytes(public_key)


b64e = b64url  # the encoding of every binary value on the wire


def b64d(text: str, *, field_name: str | None = None) -> bytes:
    """Decode canonical unpadded base64url; ``field_name`` is echoed in the error.

    Strict on purpose: padding, the standard alphabet's ``+`` and ``/``,
    whitespace, and non-zero trailing bits are refused, so each byte string has
    exactly one accepted spelling and a pseudonym cannot be smuggled past a
    comparison in a second form.
    """
    data = b64url_decode(text)
    if data is None:
        extra = {"field": field_name} if field_name is not None else None
        raise InvalidBase64(_b64_detail(field_name), extra=extra)
    return data


def pseudonym_to_str(pseudonym: bytes) -> str:
    """The wire form of a pseudonym: 64 bytes as 86 unpadded base64url characters."""
    if len(pseudonym) != OUTPUT_LEN:
        raise InvalidPseudonym(f"a pseudonym is {OUTPUT_LEN} bytes, got {len(pseudonym)}")
    return b64e(pseudonym)


def pseudonym_from_str(text: str, *, field_name: str | None = None) -> bytes:
    """Parse the wire form of a pseudonym back to its 64 bytes."""
    if len(text) != PSEUDONYM_TEXT_LEN:
        raise InvalidPseudonym(
            f"a pseudonym is {PSEUDONYM_TEXT_LEN} base64url characters, got {len(text)}",
            extra={"field": field_name} if field_name is not None else None,
        )
    return b64d(text, field_name=field_name)


def _b64_detail(field_name: str | None) -> str:
    where = f"{field_name} " if field_name is not None else ""
    return f"{where}is not unpadded base64url".lstrip()


def _check_input(index: int, data: bytes) -> None:
    if not 1 <= len(data) <= MAX_INPUT_LEN:
        raise InvalidOprfInput(
            f"OPRF input {index} must be 1 to {MAX_INPUT_LEN} bytes, got {len(data)}",
            extra={"index": index},
        )


def _is_proof_failure(exc: BaseException) -> bool:
    if isinstance(exc, ValueError):
        return True
    return type(exc).__name__ == "PanicException" and "ProofVerification" in str(exc)


def _public_key(public_key: bytes) -> ristretto.PublicKey:
    if len(public_key) != ELEMENT_LEN:
        raise InvalidKey(f"public key must be {ELEMENT_LEN} bytes, got {len(public_key)}")
    try:
        return ristretto.PublicKey.deserialize(bytes(public_key))
    except ValueError:
        raise InvalidKey("public key is not a valid ristretto255 element") from None


def _split_batch(wire: bytes, count: int) -> tuple[bytes, list[bytes]]:
    # The package's batch serialisation: proof (c || s) first, then the elements
    # in request order, no length prefix. Checked, because a silent change of
    # layout in a package upgrade would hand members unverifiable answers.
    if len(wire) != PROOF_LEN + count * ELEMENT_LEN:
        raise RuntimeError(f"voprf batch output of unexpected length {len(wire)}")
    elements = [
        wire[PROOF_LEN + i * ELEMENT_LEN : PROOF_LEN + (i + 1) * ELEMENT_LEN] for i in range(count)
    ]
    return wire[:PROOF_LEN], elements
