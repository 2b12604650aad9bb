"""The witness's pure rules (c2sp.org/tlog-witness) and Ed25519 cosignatures (tlog-cosignature)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import CheckpointError, parse_verifier_key
from refund_registry.domain.checkpoint.cosignature import (
    check_quorum,
    cosign,
    cosigned_message,
    cosigner_key_id,
    cosigner_key_string,
    parse_cosigner_key,
    verified_cosignatures,
)
from refund_registry.domain.witnessing import (
    BadSignature,
    Held,
    Inconsistent,
    OldSizeTooLarge,
    SizeConflict,
    UnknownLog,
    WitnessRefusal,
    decide,
    parse_request,
    parse_size_answer,
    parse_witness,
    parse_witnesses,
    request_body,
    retry_delay,
)
from tests.support.witnesses import ToyLog

RFC8032_TEST1 = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def _held(log: ToyLog, size: int) -> Held:
    return Held(size, log.root(size))


def _logs(log: ToyLog) -> dict[str, object]:
    return {log.origin: parse_verifier_key(log.verifier_key)}


# --------------------------------------------------------------------------- cosignature format


def test_cosigner_key_id_is_type_0x04() -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(RFC8032_TEST1).public_key()
    raw = key.public_bytes_raw()
    expected = hashlib.sha256(b"witness.example/w1\n\x04" + raw).digest()[:4]
    assert cosigner_key_id("witness.example/w1", key) == expected
    text = cosigner_key_string("witness.example/w1", key)
    encoded = base64.b64encode(b"\x04" + raw).decode()
    assert text == f"witness.example/w1+{expected.hex()}+{encoded}"
    assert parse_cosigner_key(text).key_id == expected


def test_a_log_key_is_not_a_witness_key() -> None:
    log = ToyLog()
    with pytest.raises(CheckpointError):
        parse_cosigner_key(log.verifier_key)


def test_cosigned_message_layout() -> None:
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosigned_message(body, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + body.encode()
    )


def test_cosignature_line_layout() -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(RFC8032_TEST1)
    log = ToyLog()
    log.grow(3)
    note = log.note()
    body = note[: note.rfind("\n\n") + 1]
    line = cosign(body, "w.example/1", key, 1700000000)
    name, blob = line.removeprefix("— ").rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    assert name == "w.example/1"
    assert raw[:4] == cosigner_key_id("w.example/1", key.public_key())
    assert int.from_bytes(raw[4:12], "big") == 1700000000
    key.public_key().verify(raw[12:], cosigned_message(body, 1700000000))


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 40), stamp=st.integers(1, (1 << 63) - 1), quorum=st.integers(0, 3))
def test_quorum_counts_distinct_valid_witnesses(size: int, stamp: int, quorum: int) -> None:
    log = ToyLog()
    log.grow(size)
    note = log.note()
    body = note[: note.rfind("\n\n") + 1]
    keys = [ed25519.Ed25519PrivateKey.generate() for _ in range(3)]
    names = [f"w{i}.example" for i in range(3)]
    trusted = [
        parse_cosigner_key(cosigner_key_string(n, k.public_key()))
        for n, k in zip(names, keys, strict=True)
    ]
    given_lines = "".join(
        cosign(body, n, k, stamp) for n, k in zip(names[:2], keys[:2], strict=True)
    )
    cosigned = note + given_lines
    found = verified_cosignatures(cosigned, trusted)
    assert sorted(c.name for c in found) == names[:2]
    assert all(c.timestamp == stamp for c in found)
    if quorum <= 2:
        assert len(check_quorum(cosigned, trusted, quorum)) == 2
    else:
        with pytest.raises(CheckpointError, match="fewer than the quorum"):
            check_quorum(cosigned, trusted, quorum)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_flipped_byte_of_a_cosignature_fails(data: st.DataObject) -> None:
    log = ToyLog()
    log.grow(5)
    note = log.note()
    body = note[: note.rfind("\n\n") + 1]
    key = ed25519.Ed25519PrivateKey.generate()
    trusted = parse_cosigner_key(cosigner_key_string("w.example", key.public_key()))
    line = cosign(body, "w.example", key, 1700000000)
    raw = bytearray(base64.b64decode(line.removeprefix("— w.example ").rstrip("\n")))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    tampered = f"— w.example {base64.b64encode(bytes(raw)).decode()}\n"
    try:
        found = verified_cosignatures(note + tampered, [trusted])
    except CheckpointError:
        return  # a bad signature by the trusted key
    assert found == []  # a changed key id: not this witness's line


def test_a_cosignature_over_another_body_fails() -> None:
    log = ToyLog()
    log.grow(4)
    key = ed25519.Ed25519PrivateKey.generate()
    trusted = parse_cosigner_key(cosigner_key_string("w.example", key.public_key()))
    other = log.note(3)
    line = cosign(other[: other.rfind("\n\n") + 1], "w.example", key, 1)
    with pytest.raises(CheckpointError, match="does not verify"):
        verified_cosignatures(log.note() + line, [trusted])


# --------------------------------------------------------------------------- request body


@settings(max_examples=50, deadline=None)
@given(old=st.integers(0, 2**64 - 1), count=st.integers(0, 63))
def test_request_body_round_trips(old: int, count: int) -> None:
    log = ToyLog()
    log.grow(2)
    proof = [hashlib.sha256(bytes([i])).digest() for i in range(count)]
    parsed = parse_request(request_body(old, proof, log.note()))
    assert (parsed.old_size, list(parsed.proof), parsed.note) == (old, proof, log.note())


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\nx\n",
        b"old -1\n\nx\n",
        b"old 1\n",
        b"older 1\n\nx\n",
        b"old 1\nnot base64!\n\nx\n",
        b"old 1\nAAAA\n\nx\n",
        b"old 18446744073709551616\n\nx\n",
        (
            "old 1\n"
            + "".join(base64.b64encode(bytes(32)).decode() + "\n" for _ in range(64))
            + "\nx\n"
        ).encode(),
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(WitnessRefusal) as caught:
        parse_request(body)
    assert caught.value.status == 400


# --------------------------------------------------------------------------- decisions


@settings(max_examples=60, deadline=None)
@given(old=st.integers(0, 30), extra=st.integers(0, 30))
def test_consistent_checkpoints_are_accepted(old: int, extra: int) -> None:
    log = ToyLog()
    log.grow(old + extra)
    held = _held(log, old) if old else None
    accepted = decide(parse_request(log.body(old)), _logs(log), held)  # type: ignore[arg-type]
    assert (accepted.size, accepted.root) == (old + extra, log.root(old + extra))


@settings(max_examples=60, deadline=None)
@given(old=st.integers(1, 30), extra=st.integers(0, 30), data=st.data())
def test_a_fork_is_refused(old: int, extra: int, data: st.DataObject) -> None:
    """A tree that differs from the held one anywhere in its prefix is never cosigned."""
    log = ToyLog()
    log.grow(old + extra)
    fork = ToyLog(log.origin, log.key, list(log.leaves))
    i = data.draw(st.integers(0, old - 1))
    fork.leaves[i] = merkle.leaf_hash(b"forged")
    held = _held(log, old)
    with pytest.raises(Inconsistent) as caught:
        decide(parse_request(fork.body(old)), _logs(log), held)  # type: ignore[arg-type]
    assert caught.value.status == 422


@settings(max_examples=40, deadline=None)
@given(held_size=st.integers(0, 20), claimed=st.integers(0, 20))
def test_another_old_size_is_a_409_naming_the_held_size(held_size: int, claimed: int) -> None:
    log = ToyLog()
    log.grow(25)
    held = _held(log, held_size) if held_size else None
    request = parse_request(log.body(claimed))
    if claimed == held_size:
        assert decide(request, _logs(log), held).size == 25  # type: ignore[arg-type]
        return
    with pytest.raises(SizeConflict) as caught:
        decide(request, _logs(log), held)  # type: ignore[arg-type]
    assert (caught.value.status, caught.value.size) == (409, held_size)


def test_old_size_above_the_checkpoint_is_400() -> None:
    log = ToyLog()
    log.grow(5)
    body = request_body(6, [], log.note())
    with pytest.raises(OldSizeTooLarge) as caught:
        decide(parse_request(body), _logs(log), _held(log, 5))  # type: ignore[arg-type]
    assert caught.value.status == 400


def test_unknown_origin_is_404() -> None:
    log, other = ToyLog(), ToyLog("other.example/log")
    other.grow(2)
    with pytest.raises(UnknownLog) as caught:
        decide(parse_request(other.body(0)), _logs(log), None)  # type: ignore[arg-type]
    assert caught.value.status == 404


def test_a_signature_by_another_key_is_403() -> None:
    log = ToyLog()
    impostor = ToyLog(log.origin)  # same origin, another key
    impostor.grow(2)
    with pytest.raises(BadSignature) as caught:
        decide(parse_request(impostor.body(0)), _logs(log), None)  # type: ignore[arg-type]
    assert caught.value.status == 403


def test_a_proof_from_size_zero_must_be_empty() -> None:
    log = ToyLog()
    log.grow(4)
    body = request_body(0, [bytes(32)], log.note())
    with pytest.raises(Inconsistent):
        decide(parse_request(body), _logs(log), None)  # type: ignore[arg-type]


def test_same_size_other_root_is_422() -> None:
    log = ToyLog()
    log.grow(4)
    fork = ToyLog(log.origin, log.key, list(log.leaves))
    fork.leaves[3] = merkle.leaf_hash(b"x")
    with pytest.raises(Inconsistent):
        decide(parse_request(fork.body(4)), _logs(log), _held(log, 4))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the log's side


@given(failures=st.integers(0, 10_000))
def test_retry_delay_doubles_up_to_a_ceiling(failures: int) -> None:
    delay = retry_delay(failures)
    assert 0 <= delay <= 300
    if failures == 0:
        assert delay == 0
    else:
        assert delay >= 2
        assert retry_delay(failures + 1) in {min(300.0, delay * 2), 300.0}


@given(size=st.integers(0, 2**64 - 1))
def test_a_409_body_names_the_size(size: int) -> None:
    assert parse_size_answer(f"{size}\n") == size
    assert parse_size_answer(f"0{size}\n") is None
    assert parse_size_answer(f"{size} \n") is None


def test_witnesses_are_configured_as_url_and_key() -> None:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    one = f"https://w1.example/ {cosigner_key_string('w1.example', key)}"
    two = f"http://127.0.0.1:8090 {cosigner_key_string('w2.example', other)}"
    parsed = parse_witnesses(f"{one}, {two}")
    assert [(w.url, w.name) for w in parsed] == [
        ("https://w1.example", "w1.example"),
        ("http://127.0.0.1:8090", "w2.example"),
    ]
    with pytest.raises(ValueError, match="same name"):
        parse_witnesses(f"{one},{one}")
    with pytest.raises(ValueError, match="not http"):
        parse_witness(f"ftp://w1 {cosigner_key_string('w1.example', key)}")
    with pytest.raises(ValueError, match="type 0x04"):
        parse_witness(f"https://w1 {ToyLog().verifier_key}")
