"""The rules of a log witness (c2sp.org/tlog-witness ``add-checkpoint``), and the request body.

A witness keeps, per log it follows, the latest checkpoint it cosigned. A log
submits a new checkpoint with the size of that earlier one (``old N``) and a
consistency proof from it. The witness cosigns only when, in this order:

1. the request body is well formed (else 400 ``witness.malformed``);
2. it follows the checkpoint's origin (else 404 ``witness.unknown_log``);
3. the log's own signature verifies (else 403 ``witness.bad_signature``);
4. the old size is not above the new size (else 400 ``witness.old_size``);
5. the old size is the size it holds (else 409 ``witness.size_conflict``,
   answered with that size, so the log can retry with the right proof);
6. the proof shows the new tree extends the held one (else 422
   ``witness.inconsistent``).

A split view, two different trees of one log shown to two parties, fails at
5 or 6 for the witness that saw the other branch. Everything here is pure: the
caller holds the state and persists what :func:`decide` accepts before it
answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    open_note,
    parse_checkpoint_body,
)
from refund_registry.domain.checkpoint.cosignature import CosignerKey, parse_cosigner_key
from refund_registry.domain.checkpoint.format import b64decode_strict, b64encode
from refund_registry.errors import RegistryError

MAX_PROOF_LINES = 63
"""c2sp.org/tlog-witness: a client sends at most 63 consistency proof lines."""

MAX_BODY_BYTES = 64 * 1024

_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")


class WitnessRefusal(RegistryError):
    """The witness will not cosign; ``status`` is the HTTP answer c2sp.org/tlog-witness sets."""

    code = "witness.malformed"
    title = "Malformed add-checkpoint request"
    status = 400


class UnknownLog(WitnessRefusal):
    code = "witness.unknown_log"
    title = "This witness does not follow that log"
    status = 404


class BadSignature(WitnessRefusal):
    code = "witness.bad_signature"
    title = "The log's signature does not verify"
    status = 403


class OldSizeTooLarge(WitnessRefusal):
    code = "witness.old_size"
    title = "The old size is larger than the checkpoint's"
    status = 400


class SizeConflict(WitnessRefusal):
    """The witness holds another size; ``size`` is it, the body of the 409 answer."""

    code = "witness.size_conflict"
    title = "The witness holds a checkpoint of another size"
    status = 409
    media_type: ClassVar[str] = "text/x.tlog.size"

    def __init__(self, size: int) -> None:
        super().__init__(f"the witness holds size {size}", extra={"size": size})
        self.size = size


class Inconsistent(WitnessRefusal):
    code = "witness.inconsistent"
    title = "The checkpoint is not consistent with the one the witness holds"
    status = 422


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A parsed ``add-checkpoint`` body: old size, proof hashes and the signed note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


@dataclass(frozen=True, slots=True)
class Held:
    """What a witness holds for one log: the checkpoint it last cosigned, as a tree head."""

    size: int
    root: bytes


def parse_request(body: bytes) -> AddCheckpoint:
    """Parse ``old N\\n``, proof lines, a blank line, then the checkpoint note.

    Strict: every line ends in a newline, sizes have no leading zeroes, hashes
    are canonical base64 of 32 bytes, at most 63 of them.
    """
    if len(body) > MAX_BODY_BYTES:
        raise WitnessRefusal("the request body is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WitnessRefusal("the request body is not UTF-8") from exc
    head, sep, note = text.partition("\n\n")
    if not sep or not note:
        raise WitnessRefusal("no blank line separates the proof from the checkpoint")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise WitnessRefusal("the first line must be 'old <size>' without leading zeroes")
    old_size = int(match.group(1))
    if old_size >= merkle.MAX_SIZE:
        raise WitnessRefusal("the old size does not fit in 64 bits")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessRefusal(f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            digest = b64decode_strict(line, "a proof hash")
        except CheckpointError as exc:
            raise WitnessRefusal(exc.detail) from exc
        if len(digest) != merkle.HASH_SIZE:
            raise WitnessRefusal("a proof hash is not 32 bytes")
        proof.append(digest)
    return AddCheckpoint(old_size, tuple(proof), note)


def request_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    """The ``add-checkpoint`` body a log sends (the inverse of :func:`parse_request`)."""
    lines = [f"old {old_size}", *(b64encode(h) for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


def note_origin(note: str) -> str:
    """The origin line of an unverified note, to find the key to verify it with."""
    origin, sep, _ = note.partition("\n")
    if not sep or not origin:
        raise WitnessRefusal("the checkpoint has no origin line")
    return origin


def decide(request: AddCheckpoint, logs: dict[str, VerifierKey], held: Held | None) -> Checkpoint:
    """The checkpoint to cosign and keep, or the :class:`WitnessRefusal` to answer.

    ``logs`` maps each followed origin to the log's verifier key; ``held`` is
    what the witness holds for the note's origin (``None``: nothing yet, size 0).
    """
    origin = note_origin(request.note)
    key = logs.get(origin)
    if key is None:
        raise UnknownLog(f"this witness does not follow the log {origin!r}")
    try:
        body = open_note(request.note, key)
    except CheckpointError as exc:
        raise BadSignature(exc.detail) from exc
    try:
        checkpoint = parse_checkpoint_body(body)
    except CheckpointError as exc:
        raise WitnessRefusal(exc.detail) from exc
    if checkpoint.origin != origin:  # the origin line is the first body line; belt and braces
        raise UnknownLog(f"this witness does not follow the log {checkpoint.origin!r}")
    if request.old_size > checkpoint.size:
        raise OldSizeTooLarge(
            f"old size {request.old_size} is above the checkpoint's size {checkpoint.size}"
        )
    held_size = 0 if held is None else held.size
    if request.old_size != held_size:
        raise SizeConflict(held_size)
    if checkpoint.size == 0 and checkpoint.root != merkle.EMPTY_ROOT:
        raise Inconsistent("a checkpoint of size 0 must have the empty tree's root")
    if held is None or held_size == 0:
        if request.proof:
            raise Inconsistent("the proof from size 0 must be empty")
        return checkpoint
    if not merkle.verify_consistency(
        held.size, checkpoint.size, held.root, checkpoint.root, list(request.proof)
    ):
        raise Inconsistent(
            f"the proof does not show that size {checkpoint.size} extends the held size {held.size}"
        )
    return checkpoint


# --------------------------------------------------------------------------- the log's side


@dataclass(frozen=True, slots=True)
class ConfiguredWitness:
    """A witness the registry submits its checkpoints to: where, and the key it cosigns with."""

    url: str
    key: CosignerKey

    @property
    def name(self) -> str:
        return self.key.name


def parse_witness(text: str) -> ConfiguredWitness:
    """``"<http(s) URL> <witness verifier key>"``, as ``REGISTRY_WITNESSES`` lists them."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError("a witness is '<URL> <verifier key>'")
    url, key = parts
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the witness URL {url!r} is not http(s)")
    try:
        return ConfiguredWitness(url.rstrip("/"), parse_cosigner_key(key))
    except CheckpointError as exc:
        raise ValueError(exc.detail) from exc


def parse_witnesses(text: str) -> tuple[ConfiguredWitness, ...]:
    """A comma-separated list of :func:`parse_witness` entries; names must be distinct."""
    witnesses = tuple(parse_witness(item) for item in text.split(",") if item.strip())
    names = [w.name for w in witnesses]
    if len(set(names)) != len(names):
        raise ValueError("two witnesses have the same name")
    return witnesses


def retry_delay(failures: int, *, base: float = 2.0, ceiling: float = 300.0) -> float:
    """Seconds before the next submission to a witness that failed ``failures`` times in a row.

    Doubles from ``base`` up to ``ceiling``: a witness that is down is asked
    again within minutes, never hammered.
    """
    if failures <= 0:
        return 0.0
    return float(min(ceiling, base * float(2 ** min(failures - 1, 32))))


def parse_size_answer(text: str) -> int | None:
    """The size in a 409 answer (``text/x.tlog.size``: decimal and a newline), or ``None``."""
    match = re.fullmatch(r"(0|[1-9][0-9]{0,19})\n?", text)
    if match is None:
        return None
    size = int(match.group(1))
    return size if size < merkle.MAX_SIZE else None
