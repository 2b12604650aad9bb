"""The VOPRF wrapper, tested three ways.

1. RFC 9497 Appendix A.1.2 known-answer vectors (VOPRF mode, ristretto255-SHA512).
2. A deliberately naive reference implementation (plain Python integers,
   written from RFC 9496 / RFC 9380 / RFC 9497 pseudocode, in
   ``tests/support/oprf_reference.py``), itself checked
   against the RFC vectors, then cross-checked with the ``voprf`` package under
   Hypothesis. It is what pins the package's *wire layout* (proof first, then
   elements; proof = c || s), which the package does not document.
3. Tamper properties: every flipped byte of the proof, every flipped byte of an
   evaluated element, a reordered or truncated answer, and an answer computed
   under another key are all refused.

The reference is slow and not constant-time; it exists only to be obviously
correct. It never runs outside tests.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.domain import oprf
from refund_registry.domain.identity import oprf_input
from refund_registry.errors import InvalidInput, MalformedBody, RegistryError
from tests.support.oprf_reference import (
    L,
    _encode,
    _hash_to_group,
    _lp,
    _mul,
    _scalar,
    ref_blind,
    ref_derive_key_pair,
    ref_evaluate,
    ref_finalize,
    ref_prove,
    ref_verify,
)

# --- RFC 9497 Appendix A.1.2: VOPRF mode, ristretto255-SHA512 ------------------

SEED = bytes.fromhex("a3" * 32)
KEY_INFO = bytes.fromhex("74657374206b6579")  # "test key"
SK_SM = bytes.fromhex("e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909")
PK_SM = bytes.fromhex("c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e")


@dataclass(frozen=True)
class Vector:
    inputs: list[bytes]
    blinds: list[bytes]
    blinded: list[bytes]
    evaluated: list[bytes]
    outputs: list[bytes]
    proof: bytes
    proof_random_scalar: bytes


def _h(*parts: str) -> list[bytes]:
    return [bytes.fromhex(p) for p in parts]


_BLIND_1 = "64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"
_INPUT_2 = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
_OUTPUT_1 = (
    "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d"
    "a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"
)
_OUTPUT_2 = (
    "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60"
    "356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6"
)

VECTORS = [
    # A.1.2.1, batch size 1
    Vector(
        inputs=_h("00"),
        blinds=_h(_BLIND_1),
        blinded=_h("863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"),
        evaluated=_h("aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"),
        outputs=_h(_OUTPUT_1),
        proof=bytes.fromhex(
            "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd06"
            "6d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d"
        ),
        proof_random_scalar=bytes.fromhex(
            "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e"
        ),
    ),
    # A.1.2.2, batch size 1
    Vector(
        inputs=_h(_INPUT_2),
        blinds=_h(_BLIND_1),
        blinded=_h("cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"),
        evaluated=_h("60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"),
        outputs=_h(_OUTPUT_2),
        proof=bytes.fromhex(
            "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a"
            "67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02"
        ),
        proof_random_scalar=bytes.fromhex(
            "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e"
        ),
    ),
    # A.1.2.3, batch size 2 (one batched proof)
    Vector(
        inputs=_h("00", _INPUT_2),
        blinds=_h(_BLIND_1, "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e"),
        blinded=_h(
            "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
            "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
        ),
        evaluated=_h(
            "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
            "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
        ),
        outputs=_h(_OUTPUT_1, _OUTPUT_2),
        proof=bytes.fromhex(
            "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a"
            "5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08"
        ),
        proof_random_scalar=bytes.fromhex(
            "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c"
        ),
    ),
]


# --- 1. the reference against the RFC ------------------------------------------


def test_reference_derives_the_rfc_key_pair() -> None:
    sk, pk = ref_derive_key_pair(SEED, KEY_INFO)
    assert sk.to_bytes(32, "little") == SK_SM
    assert pk == PK_SM


@pytest.mark.parametrize("vector", VECTORS, ids=["A.1.2.1", "A.1.2.2", "A.1.2.3"])
def test_reference_reproduces_every_rfc_value(vector: Vector) -> None:
    sk = _scalar(SK_SM)
    blinds = [_scalar(b) for b in vector.blinds]
    blinded = [ref_blind(x, b) for x, b in zip(vector.inputs, blinds, strict=True)]
    assert blinded == vector.blinded
    evaluated = [ref_evaluate(sk, b) for b in blinded]
    assert evaluated == vector.evaluated
    proof = ref_prove(sk, PK_SM, blinded, evaluated, _scalar(vector.proof_random_scalar))
    assert proof == vector.proof
    assert ref_verify(PK_SM, blinded, evaluated, proof)
    outputs = [ref_finalize(*args) for args in zip(vector.inputs, blinds, evaluated, strict=True)]
    assert outputs == vector.outputs


# --- 1'. the package against the RFC -------------------------------------------


@pytest.fixture(scope="module")
def rfc_key() -> oprf.ServerKey:
    return oprf.load_server_key(SEED, info=KEY_INFO)


def test_package_derives_the_rfc_public_key(rfc_key: oprf.ServerKey) -> None:
    assert rfc_key.public_key == PK_SM
    assert oprf.SUITE == "ristretto255-SHA512"


@pytest.mark.parametrize("vector", VECTORS, ids=["A.1.2.1", "A.1.2.2", "A.1.2.3"])
def test_package_outputs_match_rfc(vector: Vector, rfc_key: oprf.ServerKey) -> None:
    for data, expected in zip(vector.inputs, vector.outputs, strict=True):
        assert oprf.evaluate_known_input(rfc_key, data) == expected


@pytest.mark.parametrize("vector", VECTORS, ids=["A.1.2.1", "A.1.2.2", "A.1.2.3"])
def test_package_evaluates_rfc_blinded_elements(vector: Vector, rfc_key: oprf.ServerKey) -> None:
    # The blind cannot be fixed through the package's client API, but evaluation
    # is deterministic, so the server half is checked byte for byte; its proof uses
    # fresh randomness and is checked with the reference verifier instead.
    evaluated, proof = oprf.evaluate_batch(rfc_key, vector.blinded)
    assert evaluated == vector.evaluated
    assert len(proof) == oprf.PROOF_LEN
    assert ref_verify(PK_SM, vector.blinded, evaluated, proof)
    # ... and the RFC's own proof bytes verify under the same verifier, so the
    # package's layout is the RFC's (c || s, not s || c).
    assert ref_verify(PK_SM, vector.blinded, vector.evaluated, vector.proof)
    assert not ref_verify(PK_SM, vector.blinded, evaluated, proof[32:] + proof[:32])


# --- 2. the package against the reference, on random inputs --------------------


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=4),
    st.data(),
)
def test_package_and_reference_agree(inputs: list[bytes], data: st.DataObject) -> None:
    key = oprf.load_server_key(SEED, info=KEY_INFO)
    blinds = [data.draw(st.integers(min_value=1, max_value=L - 1)) for _ in inputs]
    blinded = [ref_blind(x, b) for x, b in zip(inputs, blinds, strict=True)]
    evaluated, proof = oprf.evaluate_batch(key, blinded)
    assert ref_verify(key.public_key, blinded, evaluated, proof)
    for x, b, e in zip(inputs, blinds, evaluated, strict=True):
        assert ref_finalize(x, b, e) == oprf.evaluate_known_input(key, x)


def test_package_client_blinds_like_the_reference(rfc_key: oprf.ServerKey) -> None:
    # The package's blinded element must be r * HashToGroup(input) for *some* r:
    # unblinding the server's answer with the package client and recomputing the
    # output with the reference from the known key gives the same pseudonym.
    data = oprf_input("phone", "+8613800138000")
    state, blinded = oprf.blind([data])
    evaluated, proof = oprf.evaluate_batch(rfc_key, blinded)
    [output] = oprf.finalize(state, evaluated, proof, rfc_key.public_key)
    point = _mul(_scalar(SK_SM), _hash_to_group(data))
    expected = hashlib.sha512(_lp(data) + _lp(_encode(point)) + b"Finalize").digest()
    assert output == expected


# --- round trips ---------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> oprf.ServerKey:
    return oprf.load_server_key(oprf.new_seed())


@pytest.fixture(scope="module")
def other_key() -> oprf.ServerKey:
    return oprf.load_server_key(oprf.new_seed())


IDENTIFIERS = [
    ("phone", "+8613800138000"),
    ("email", "buyer@example.com"),
    ("national_id", "11010519491231002X"),
    ("device_id", "5f0c7d9e-2f5b-4c37-9d7e-1b2d3c4e5f60"),
    ("payment_account", "6222020200112233445"),
]


def test_blind_evaluate_finalize_equals_direct_evaluation(key: oprf.ServerKey) -> None:
    inputs = [oprf_input(kind, value) for kind, value in IDENTIFIERS]
    state, blinded = oprf.blind(inputs)
    assert all(len(b) == oprf.ELEMENT_LEN for b in blinded)
    evaluated, proof = oprf.evaluate_batch(key, blinded)
    outputs = oprf.finalize(state, evaluated, proof, key.public_key)
    assert outputs == [oprf.evaluate_known_input(key, x) for x in inputs]
    assert all(len(o) == oprf.OUTPUT_LEN for o in outputs)
    assert len(set(outputs)) == len(outputs)


def test_blinding_is_fresh_each_time(key: oprf.ServerKey) -> None:
    data = oprf_input("phone", "+8613800138000")
    _, first = oprf.blind([data])
    _, second = oprf.blind([data])
    assert first != second  # the key service cannot link two lookups of one buyer


def test_same_seed_same_key_and_info_separates_keys() -> None:
    seed = oprf.new_seed()
    assert oprf.load_server_key(seed).public_key == oprf.load_server_key(seed).public_key
    assert (
        oprf.load_server_key(seed).public_key
        != oprf.load_server_key(seed, info=b"refund-registry keyservice v2").public_key
    )


def test_server_key_repr_shows_no_secret(key: oprf.ServerKey) -> None:
    assert "evaluator" not in repr(key)


# --- 3. refusals and tampering -------------------------------------------------


@pytest.fixture(scope="module")
def answered(key: oprf.ServerKey) -> tuple[oprf.BlindState, list[bytes], bytes]:
    inputs = [oprf_input(kind, value) for kind, value in IDENTIFIERS[:3]]
    state, blinded = oprf.blind(inputs)
    evaluated, proof = oprf.evaluate_batch(key, blinded)
    return state, evaluated, proof


def test_answer_from_another_key_is_refused(key: oprf.ServerKey, other_key: oprf.ServerKey) -> None:
    state, blinded = oprf.blind([oprf_input("email", "buyer@example.com")])
    evaluated, proof = oprf.evaluate_batch(other_key, blinded)
    with pytest.raises(oprf.ProofInvalid) as caught:
        oprf.finalize(state, evaluated, proof, key.public_key)
    assert caught.value.code == "keyservice.proof_invalid"
    assert isinstance(caught.value, RegistryError)
    # The same answer is fine against the key that produced it.
    assert oprf.finalize(state, evaluated, proof, other_key.public_key)


def test_every_flipped_proof_byte_is_refused(
    key: oprf.ServerKey, answered: tuple[oprf.BlindState, list[bytes], bytes]
) -> None:
    state, evaluated, proof = answered
    for i in range(len(proof)):
        for mask in (0x01, 0x80):
            tampered = bytearray(proof)
            tampered[i] ^= mask
            with pytest.raises(oprf.ProofInvalid):
                oprf.finalize(state, evaluated, bytes(tampered), key.public_key)


def test_every_flipped_element_byte_is_refused(
    key: oprf.ServerKey, answered: tuple[oprf.BlindState, list[bytes], bytes]
) -> None:
    state, evaluated, proof = answered
    for j in range(len(evaluated)):
        for i in range(oprf.ELEMENT_LEN):
            tampered = list(evaluated)
            flipped = bytearray(tampered[j])
            flipped[i] ^= 0x01
            tampered[j] = bytes(flipped)
            with pytest.raises(oprf.ProofInvalid):
                oprf.finalize(state, tampered, proof, key.public_key)


def test_reordered_or_truncated_answers_are_refused(
    key: oprf.ServerKey, answered: tuple[oprf.BlindState, list[bytes], bytes]
) -> None:
    state, evaluated, proof = answered
    with pytest.raises(oprf.ProofInvalid):
        oprf.finalize(state, evaluated[::-1], proof, key.public_key)
    with pytest.raises(oprf.ProofInvalid) as caught:
        oprf.finalize(state, evaluated[:-1], proof, key.public_key)
    assert caught.value.extra["reason"] == "count"
    with pytest.raises(oprf.ProofInvalid) as caught:
        oprf.finalize(state, evaluated, proof[:-1], key.public_key)
    assert caught.value.extra["reason"] == "length"
    # The untouched answer still verifies: the refusals above are not flukes.
    assert len(oprf.finalize(state, evaluated, proof, key.public_key)) == len(evaluated)


def test_only_the_proof_failure_is_converted() -> None:
    # finalize has to catch BaseException (voprf panics on a bad batch proof);
    # it must not swallow anything else.
    assert not oprf._is_proof_failure(KeyboardInterrupt())
    assert not oprf._is_proof_failure(SystemExit(1))
    assert not oprf._is_proof_failure(RuntimeError("ProofVerification"))
    assert oprf._is_proof_failure(ValueError("invalid proof"))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"\xff" * 32, "encoding"),  # not a canonical field element
        (bytes(32), "encoding"),  # the identity element
        (b"\x01" + bytes(31), "encoding"),  # odd ("negative") s
        (b"\x00" * 31, "length"),
        (b"\x00" * 33, "length"),
        (b"", "length"),
    ],
)
def test_invalid_blinded_element_is_refused_with_its_index(
    key: oprf.ServerKey, bad: bytes, reason: str
) -> None:
    _, blinded = oprf.blind([b"a", b"b", b"c"])
    blinded[1] = bad
    with pytest.raises(oprf.InvalidElement) as caught:
        oprf.evaluate_batch(key, blinded)
    exc = caught.value
    assert isinstance(exc, InvalidInput)
    assert exc.code == "keyservice.invalid_element"
    assert exc.extra == {"index": 1, "reason": reason}


def test_batch_size_limits(key: oprf.ServerKey) -> None:
    with pytest.raises(oprf.InvalidBatch):
        oprf.evaluate_batch(key, [])
    _, blinded = oprf.blind([b"x"])
    with pytest.raises(oprf.InvalidBatch):
        oprf.evaluate_batch(key, blinded * (oprf.MAX_BATCH + 1))
    evaluated, _ = oprf.evaluate_batch(key, blinded * oprf.MAX_BATCH)
    assert len(evaluated) == oprf.MAX_BATCH
    with pytest.raises(oprf.InvalidBatch):
        oprf.blind([])
    with pytest.raises(oprf.InvalidOprfInput):
        oprf.blind([b""])


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_seed_must_be_exactly_32_bytes(length: int) -> None:
    # The package itself accepts any seed of 16 bytes or more.
    with pytest.raises(oprf.InvalidKey):
        oprf.load_server_key(secrets.token_bytes(length))


def test_bad_public_key_is_refused(
    answered: tuple[oprf.BlindState, list[bytes], bytes],
) -> None:
    state, evaluated, proof = answered
    for bad in (b"\xff" * 32, bytes(32), PK_SM[:31]):
        with pytest.raises(oprf.InvalidKey):
            oprf.check_public_key(bad)
        with pytest.raises(oprf.InvalidKey):
            oprf.finalize(state, evaluated, proof, bad)
    assert oprf.check_public_key(PK_SM) == PK_SM


# --- base64url and pseudonyms --------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=100))
def test_b64_round_trip_is_unpadded_url_safe(data: bytes) -> None:
    text = oprf.b64e(data)
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text
    assert oprf.b64d(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "AAE=",  # padded
        "+/8",  # standard alphabet
        "AA E",  # whitespace
        "A",  # impossible length
        "AB",  # non-zero trailing bits (canonical form is "AA")
        "AAF",  # non-zero trailing bits (canonical form is "AAE")
        "é",  # not ASCII
    ],
)
def test_b64_refuses_non_canonical_text(text: str) -> None:
    with pytest.raises(oprf.InvalidBase64) as caught:
        oprf.b64d(text, field_name="blinded[0]")
    exc = caught.value
    assert isinstance(exc, MalformedBody)
    assert exc.code == "request.invalid_base64"
    assert exc.extra == {"field": "blinded[0]"}
    assert "blinded[0]" in exc.detail


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=64, max_size=64))
def test_pseudonym_text_form(pseudonym: bytes) -> None:
    text = oprf.pseudonym_to_str(pseudonym)
    assert len(text) == oprf.PSEUDONYM_TEXT_LEN == 86
    assert oprf.pseudonym_from_str(text) == pseudonym


def test_pseudonym_wrong_length_is_refused() -> None:
    with pytest.raises(oprf.InvalidPseudonym):
        oprf.pseudonym_to_str(bytes(63))
    with pytest.raises(oprf.InvalidPseudonym):
        oprf.pseudonym_from_str(oprf.b64e(bytes(63)))
    with pytest.raises(oprf.InvalidBase64):
        oprf.pseudonym_from_str("=" * 86)
