"""Ed25519 through libsodium: request signatures that verify and never do; signing."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.domain.checkpoint.signing import ed25519_sign
from refund_registry.domain.keyring import parse_public_key
from refund_registry.domain.tokens import Unverified, _signature_valid
from refund_registry.errors import InvalidInput

# The order of the Ed25519 base point: S must be below it (RFC 8032 section 5.1.7).
L = 2**252 + 27742317777372353535851937790883648493
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def head(signing_input: bytes, signature: bytes) -> Unverified:
    return Unverified(
        kid="k", iss="i", alg="EdDSA", typ="rr-req+jwt", claims={},
        signing_input=signing_input, signature=signature,
    )  # fmt: skip


@settings(max_examples=60)
@given(st.binary(min_size=1, max_size=600), st.data())
def test_a_signature_verifies_and_any_changed_bit_does_not(
    message: bytes, data: st.DataObject
) -> None:
    signature = KEY.sign(message)
    assert _signature_valid(head(message, signature), KEY.public_key())
    bit = data.draw(st.integers(0, 8 * (len(signature) + len(message)) - 1))
    both = bytearray(signature + message)
    both[bit // 8] ^= 1 << (bit % 8)
    changed = bytes(both)
    assert not _signature_valid(head(changed[64:], changed[:64]), KEY.public_key())


@given(st.binary(max_size=200).filter(lambda s: len(s) != 64))
def test_a_signature_of_the_wrong_length_never_verifies(signature: bytes) -> None:
    assert not _signature_valid(head(b"header.claims", signature), KEY.public_key())


def test_a_non_canonical_s_is_refused() -> None:
    message = b"header.claims"
    signature = KEY.sign(message)
    s = int.from_bytes(signature[32:], "little") + L  # the same scalar, spelled otherwise
    assert s < 2**256
    malleated = signature[:32] + s.to_bytes(32, "little")
    assert not _signature_valid(head(message, malleated), KEY.public_key())


def test_a_small_order_key_verifies_nothing() -> None:
    # The neutral point as a public key, R the neutral point and S = 0: the
    # verification equation [S]B = R + [k]A holds for every message, so a
    # verifier that accepts small-order keys accepts this "signature" of anything.
    neutral = b"\x01" + bytes(31)
    key = ed25519.Ed25519PublicKey.from_public_bytes(neutral)
    for message in (b"header.claims", b"anything at all"):
        assert not _signature_valid(head(message, neutral + bytes(32)), key)


def test_a_small_order_key_cannot_be_registered() -> None:
    neutral = ed25519.Ed25519PublicKey.from_public_bytes(b"\x01" + bytes(31))
    pem = neutral.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(InvalidInput) as refused:
        parse_public_key(pem)
    assert refused.value.code == "key.unsupported"
    ordinary = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    assert parse_public_key(ordinary).alg == "EdDSA"


@settings(max_examples=40)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=300))
def test_libsodium_signs_exactly_as_openssl_does(seed: bytes, message: bytes) -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    assert ed25519_sign(key, message) == key.sign(message)
    assert ed25519_sign(key, message) == key.sign(message)  # the second use, from the cache
