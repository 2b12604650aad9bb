"""Checkpoints as C2SP signed notes, verifier keys and receipts.

Known answers come from the Go reference implementation (golang.org/x/mod/sumdb/note
documentation and tests), the C2SP signed-note specification's example, real
checkpoints of the Go checksum database, and RFC 8032's first Ed25519 test key.
Our own format is pinned byte for byte for a fixed input, round-tripped under
Hypothesis, and every flipped byte of a signed note must be refused.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.domain.checkpoint import (
    MAX_SIGNATURES,
    RECEIPT_CONTEXT,
    Checkpoint,
    CheckpointError,
    VerifierKey,
    checkpoint_body,
    key_id,
    open_note,
    parse_and_verify,
    parse_checkpoint_body,
    parse_verifier_key,
    receipt_message,
    sign_checkpoint,
    sign_note,
    sign_receipt,
    verifier_key_string,
    verify_receipt,
)

EM = "\u2014"

# --------------------------------------------------------------------------- published vectors

# golang.org/x/mod/sumdb/note: package documentation (ExampleSign/ExampleOpen) and
# note_test.go. Ed25519 is deterministic, so signing GO_TEXT with GO_SEED must
# reproduce PETER_SIG exactly.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
# PRIVATE+KEY+<name>+<id>+base64(0x01 ‖ seed); the base64 itself holds a "+".
GO_SEED = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    f"{EM} PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    f"{EM} EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# c2sp.org/signed-note, section "Example".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    f"{EM} example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# Real checkpoints of the Go checksum database (https://sum.golang.org/latest at the
# time), signed by its published key; the key's base64 holds "+" characters.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTES = {
    6476701: (
        "go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n"
        f"{EM} sum.golang.org "
        "Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n"
    ),
    15067302: (
        "go.sum database tree\n15067302\ngJyioq6dwR9n+NjEWORfYmH+ubeYm3kH42BBQ0bTpYI=\n\n"
        f"{EM} sum.golang.org "
        "Az3grp1rvWOs5NKlr/xR4GLN/CDyzzakmt1o61uSxYKpK1SerqOP2ClbX/peKUZjYnyomH5Xz7GZG3TpB7OeKn4E2ww=\n"
        f"{EM} test.example.com "
        "qTGhC/xIPQ0AXKHK6Y+9ypRfuvMZWPjRXM8NiOg5M1WREn07VQXyuIXM3NRNav3ieVFLUqDRK77PWDmL6w8w84UqeAw=\n"
    ),
}

# RFC 8032 §7.1, TEST 1: secret key and the public key it must derive.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def test_go_reference_key_id_verifier_key_and_signature() -> None:
    key = Ed25519PrivateKey.from_private_bytes(GO_SEED)
    assert key_id("PeterNeumann", key.public_key()).hex() == "c74f20a3"
    assert verifier_key_string("PeterNeumann", key.public_key()) == PETER_VKEY
    assert sign_note(GO_TEXT, "PeterNeumann", key) == GO_TEXT + "\n" + PETER_SIG
    assert open_note(GO_TEXT + "\n" + PETER_SIG, parse_verifier_key(PETER_VKEY)) == GO_TEXT


def test_unknown_signatures_are_ignored() -> None:
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(both, parse_verifier_key(PETER_VKEY)) == GO_TEXT
    assert open_note(both, parse_verifier_key(ENOCH_VKEY)) == GO_TEXT
    with pytest.raises(CheckpointError, match="no signature by EnochRoot"):
        open_note(GO_TEXT + "\n" + PETER_SIG, parse_verifier_key(ENOCH_VKEY))


def test_spec_example_verifies() -> None:
    verifier = parse_verifier_key(SPEC_VKEY)
    assert (verifier.name, verifier.key_id.hex()) == ("example.com/foo", "530d903a")
    assert str(verifier) == SPEC_VKEY
    assert open_note(SPEC_NOTE, verifier) == "This is an example message.\n"


@pytest.mark.parametrize("size", sorted(SUMDB_NOTES))
def test_real_go_checksum_database_checkpoints(size: int) -> None:
    checkpoint = parse_and_verify(SUMDB_NOTES[size], SUMDB_VKEY, origin="go.sum database tree")
    assert checkpoint.size == size
    assert len(checkpoint.root) == 32
    with pytest.raises(CheckpointError, match="expected"):
        parse_and_verify(SUMDB_NOTES[size], SUMDB_VKEY, origin="registry.example/audit")


# --------------------------------------------------------------------------- our format, pinned

NAME = "registry.example/audit"
KEY = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
VKEY = "registry.example/audit+0fa8f0a0+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea"
ROOT = bytes(range(32))
BODY = "registry.example/audit\n1234567\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
NOTE = (
    BODY
    + "\n"
    + f"{EM} registry.example/audit "
    + "D6jwoKrFsfWZ2n6OYDY4quBgIAaBNY8P2qS0A/11ICE3JOiS01bM382VMcynzrbE00EYZ+E42FOw+/YmfCvBv4UtBgw="
    + "\n"
)


def test_key_derivation_and_id_from_the_definition() -> None:
    assert KEY.public_key().public_bytes_raw() == RFC8032_PUBLIC
    # key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], computed here by hand.
    by_hand = hashlib.sha256(NAME.encode() + b"\n\x01" + RFC8032_PUBLIC).digest()[:4]
    assert key_id(NAME, KEY.public_key()) == by_hand
    assert by_hand.hex() == "0fa8f0a0"
    assert verifier_key_string(NAME, KEY.public_key()) == VKEY
    encoded_key = base64.b64encode(b"\x01" + RFC8032_PUBLIC).decode()
    assert f"{NAME}+{by_hand.hex()}+{encoded_key}" == VKEY


def test_exact_checkpoint_text() -> None:
    assert checkpoint_body(NAME, 1234567, ROOT) == BODY
    assert sign_checkpoint(NAME, 1234567, ROOT, NAME, KEY) == NOTE
    # The signature line carries key id ‖ signature over the body bytes.
    blob = base64.b64decode(NOTE.rsplit(" ", 1)[1])
    assert blob[:4].hex() == "0fa8f0a0"
    KEY.public_key().verify(blob[4:], BODY.encode())


def test_round_trip() -> None:
    checkpoint = parse_and_verify(NOTE, VKEY, origin=NAME)
    assert checkpoint == Checkpoint(NAME, 1234567, ROOT)
    assert parse_and_verify(NOTE.encode(), parse_verifier_key(VKEY)) == checkpoint
    empty = sign_checkpoint(NAME, 0, hashlib.sha256(b"").digest(), NAME, KEY)
    assert empty.splitlines()[1] == "0"
    assert parse_and_verify(empty, VKEY).size == 0
    biggest = sign_checkpoint(NAME, (1 << 64) - 1, ROOT, NAME, KEY)
    assert parse_and_verify(biggest, VKEY).size == (1 << 64) - 1


_name_chars = st.characters(
    blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), blacklist_characters="+"
)
_names = st.text(_name_chars, min_size=1, max_size=40).filter(
    lambda s: not any(c.isspace() for c in s)
)
_origins = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    origin=_origins,
    size=st.integers(0, (1 << 64) - 1),
    root=st.binary(min_size=32, max_size=32),
    name=_names,
    seed=st.binary(min_size=32, max_size=32),
)
def test_any_checkpoint_round_trips(
    origin: str, size: int, root: bytes, name: str, seed: bytes
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(seed)
    vkey = verifier_key_string(name, key.public_key())
    parsed = parse_verifier_key(vkey)
    assert (parsed.name, str(parsed)) == (name, vkey)
    note = sign_checkpoint(origin, size, root, name, key)
    assert parse_and_verify(note, vkey, origin=origin) == Checkpoint(origin, size, root)


# --------------------------------------------------------------------------- tamper and misuse


def _assert_refused(note: bytes, vkey: str = VKEY) -> None:
    with pytest.raises(CheckpointError):
        parse_and_verify(note, vkey)
    try:
        text = note.decode("utf-8")
    except UnicodeDecodeError:
        return
    with pytest.raises(CheckpointError):
        parse_and_verify(text, vkey)


@pytest.mark.parametrize("mask", [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF])
def test_every_flipped_byte_of_the_note_is_refused(mask: int) -> None:
    data = NOTE.encode("utf-8")
    for position in range(len(data)):
        tampered = bytearray(data)
        tampered[position] ^= mask
        _assert_refused(bytes(tampered))


def test_every_deleted_or_doubled_byte_is_refused() -> None:
    data = NOTE.encode("utf-8")
    for position in range(len(data)):
        _assert_refused(data[:position] + data[position + 1 :])
        _assert_refused(data[:position] + data[position : position + 1] + data[position:])


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_random_byte_flips_of_random_notes_are_refused(data: st.DataObject) -> None:
    origin = data.draw(_origins, label="origin")
    size = data.draw(st.integers(0, (1 << 64) - 1), label="size")
    root = data.draw(st.binary(min_size=32, max_size=32), label="root")
    note = sign_checkpoint(origin, size, root, NAME, KEY).encode("utf-8")
    position = data.draw(st.integers(0, len(note) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(note)
    tampered[position] ^= mask
    _assert_refused(bytes(tampered))


def test_non_canonical_base64_is_refused() -> None:
    # Same decoded bytes, different text: the last character before "=" carries two
    # unused bits. Accepting it would let the note change while still "verifying".
    head, encoded = NOTE.rstrip("\n").rsplit(" ", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(encoded[-2])
    twin = encoded[:-2] + alphabet[last ^ 1] + "="
    assert base64.b64decode(twin) == base64.b64decode(encoded)
    with pytest.raises(CheckpointError, match="canonical"):
        parse_and_verify(f"{head} {twin}\n", VKEY)
    root_line = base64.b64encode(ROOT).decode()
    root_twin = root_line[:-2] + alphabet[alphabet.index(root_line[-2]) ^ 1] + "="
    with pytest.raises(CheckpointError, match="canonical"):
        parse_checkpoint_body(f"{NAME}\n1\n{root_twin}\n")


def test_wrong_keys_are_refused() -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(32))
    # Same name, other key: a different key id, so the note has no signature by it.
    with pytest.raises(CheckpointError, match="no signature"):
        parse_and_verify(NOTE, verifier_key_string(NAME, other.public_key()))
    # Same key, other name.
    with pytest.raises(CheckpointError, match="no signature"):
        parse_and_verify(NOTE, verifier_key_string("other.example/log", KEY.public_key()))
    # Same name and key id, other key: a colliding id is caught by the signature.
    impostor = VerifierKey(NAME, key_id(NAME, KEY.public_key()), other.public_key())
    with pytest.raises(CheckpointError, match="does not verify"):
        parse_and_verify(NOTE, impostor)


def test_a_bad_signature_by_the_trusted_key_rejects_the_note() -> None:
    forged = sign_checkpoint(NAME, 1234568, ROOT, NAME, KEY).split("\n\n")[1]
    with pytest.raises(CheckpointError, match="does not verify"):
        parse_and_verify(NOTE + forged, VKEY)
    # A second, valid copy of the same signature is fine.
    assert parse_and_verify(NOTE + NOTE.split("\n\n")[1], VKEY).size == 1234567


@pytest.mark.parametrize(
    "note",
    [
        BODY,  # no signatures at all
        BODY + "\n",  # blank line, no signature lines
        NOTE.rstrip("\n"),  # last signature line not terminated
        NOTE.replace(EM, "-"),  # not an em dash
        NOTE.replace(EM + " ", EM),  # no space after the dash
        NOTE.replace("\n", "\r\n"),  # control characters
        NOTE.replace(f"{EM} {NAME} ", f"{EM} {NAME}  "),  # empty name/signature split
        NOTE.replace(f"{EM} {NAME} ", f"{EM} {NAME}+x "),  # "+" in the key name
        NOTE + f"{EM} {NAME} AAAA\n",  # signature shorter than a key id
        NOTE + f"{EM} {NAME} !!!!\n",  # not base64
        NOTE + f"{EM} x {'A' * 100}\n" * MAX_SIGNATURES,  # too many signature lines
        "x" * (1 << 20) + NOTE,  # too large
        "\ud800" + NOTE,  # not encodable as UTF-8
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(CheckpointError):
        parse_and_verify(note, VKEY)


URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFF]) * 32).decode()


@pytest.mark.parametrize(
    "body",
    [
        "a\n1\n",  # two lines
        f"{NAME}\n1\n{base64.b64encode(ROOT).decode()}",  # no final newline
        f"\n1\n{base64.b64encode(ROOT).decode()}\n",  # empty origin
        f"a\n01\n{base64.b64encode(ROOT).decode()}\n",  # leading zero
        f"a\n+1\n{base64.b64encode(ROOT).decode()}\n",
        f"a\n 1\n{base64.b64encode(ROOT).decode()}\n",
        f"a\n\u0661\n{base64.b64encode(ROOT).decode()}\n",  # ARABIC-INDIC DIGIT ONE
        f"a\n{1 << 64}\n{base64.b64encode(ROOT).decode()}\n",  # beyond uint64
        f"a\n{'9' * 5000}\n{base64.b64encode(ROOT).decode()}\n",
        f"a\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31-byte root
        f"a\n1\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",  # unpadded
        f"a\n1\n{URLSAFE_ROOT}\n",  # URL-safe alphabet
        f"a\n1\n{base64.b64encode(ROOT).decode()}\n\nx\n",  # empty extension line
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint_body(body)


def test_note_text_ends_at_the_last_blank_line() -> None:
    text = "first paragraph\n\nsecond paragraph\n"
    assert open_note(sign_note(text, NAME, KEY), parse_verifier_key(VKEY)) == text


def test_control_characters_are_refused_even_when_signed() -> None:
    # Signed by the right key, bypassing sign_note's own check: still refused.
    body = f"{NAME}\t\n1\n{base64.b64encode(ROOT).decode()}\n"
    blob = key_id(NAME, KEY.public_key()) + KEY.sign(body.encode())
    note = f"{body}\n{EM} {NAME} {base64.b64encode(blob).decode()}\n"
    with pytest.raises(CheckpointError, match="control character"):
        parse_and_verify(note, VKEY)


def test_extension_lines_are_kept() -> None:
    body = BODY + "ext one\next two\n"
    assert parse_checkpoint_body(body).extensions == ("ext one", "ext two")
    note = sign_note(body, NAME, KEY)
    assert parse_and_verify(note, VKEY).extensions == ("ext one", "ext two")


@pytest.mark.parametrize(
    ("origin", "size", "root", "name"),
    [
        ("", 1, ROOT, NAME),
        ("two\nlines", 1, ROOT, NAME),
        ("tab\there", 1, ROOT, NAME),
        (NAME, -1, ROOT, NAME),
        (NAME, 1 << 64, ROOT, NAME),
        (NAME, True, ROOT, NAME),
        (NAME, 1, ROOT[:31], NAME),
        (NAME, 1, ROOT, ""),
        (NAME, 1, ROOT, "has space"),
        (NAME, 1, ROOT, "has+plus"),
        (NAME, 1, ROOT, "nbsp\u00a0name"),
    ],
)
def test_signing_refuses_bad_input(origin: str, size: int, root: bytes, name: str) -> None:
    with pytest.raises(CheckpointError):
        sign_checkpoint(origin, size, root, name, KEY)


def test_sign_note_refuses_bad_text() -> None:
    for text in ("", "no newline", "bad\x00char\n", "\ud800\n"):
        with pytest.raises(CheckpointError):
            sign_note(text, NAME, KEY)


@pytest.mark.parametrize(
    "vkey",
    [
        VKEY + "\n",  # surrounding junk
        VKEY.replace("+0fa8f0a0+", "+0fa8f0a1+"),  # id does not match
        VKEY.replace("+0fa8f0a0+", "+0fa8f0a+"),  # 7 hex digits
        VKEY.replace("+0fa8f0a0+", "+0x0fa8f0+"),
        NAME + "+0fa8f0a0",  # no key
        "+0fa8f0a0+" + VKEY.rsplit("+", 1)[1],  # no name
        f"{NAME}+0fa8f0a0+" + base64.b64encode(b"\x02" + RFC8032_PUBLIC).decode(),  # type 2
        f"{NAME}+0fa8f0a0+" + base64.b64encode(b"\x01" + RFC8032_PUBLIC[:31]).decode(),
        VKEY + "=",  # stray padding
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        parse_verifier_key(vkey)


def test_verifier_key_accepts_upper_case_hex_like_go() -> None:
    assert parse_verifier_key(VKEY.replace("0fa8f0a0", "0FA8F0A0")).key_id.hex() == "0fa8f0a0"
    assert parse_verifier_key(SUMDB_VKEY).name == "sum.golang.org"


# --------------------------------------------------------------------------- receipts

LEAF = hashlib.sha256(b"\x00" + b"an access-log entry").digest()
AT = 1_764_072_000_123_456  # 2025-11-25T12:00:00.123456Z in microseconds
RECEIPT_SIG = bytes.fromhex(
    "ab079649e104935b34e426267c1f579eae9f17f929070894ef1ab6a3ea58b028"
    "a8792e3811a0bae27ee70762b8f4ddb1b3de3b18d6177dd15dde0cf2eae8fb04"
)


def test_receipt_message_layout() -> None:
    message = receipt_message(LEAF, AT)
    assert RECEIPT_CONTEXT == b"refund-registry receipt v1\n"
    assert message == b"refund-registry receipt v1\n" + LEAF + bytes.fromhex("0006446a04ecf240")
    assert int.from_bytes(message[-8:], "big") == AT
    assert len(message) == 67


def test_receipt_round_trip_and_pinned_signature() -> None:
    signature = sign_receipt(ROOT, AT, KEY)
    assert signature == RECEIPT_SIG
    assert verify_receipt(ROOT, AT, signature, KEY.public_key())
    assert verify_receipt(LEAF, 0, sign_receipt(LEAF, 0, KEY), KEY.public_key())


def test_every_tampered_receipt_fails() -> None:
    public = KEY.public_key()
    signature = sign_receipt(LEAF, AT, KEY)
    for position in range(64):
        for mask in (0x01, 0x80):
            bad = bytearray(signature)
            bad[position] ^= mask
            assert not verify_receipt(LEAF, AT, bytes(bad), public)
    for position in range(32):
        bad = bytearray(LEAF)
        bad[position] ^= 0x01
        assert not verify_receipt(bytes(bad), AT, signature, public)
    for bit in range(64):
        assert not verify_receipt(LEAF, AT ^ (1 << bit), signature, public)
    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert not verify_receipt(LEAF, AT, signature, other)
    # Malformed fields are failed verifications, not crashes.
    assert not verify_receipt(LEAF[:31], AT, signature, public)
    assert not verify_receipt(LEAF, -1, signature, public)
    assert not verify_receipt(LEAF, 1 << 64, signature, public)
    assert not verify_receipt(LEAF, AT, signature[:63], public)
    assert not verify_receipt(LEAF, AT, signature + b"\x00", public)


def test_receipt_signing_refuses_bad_input() -> None:
    for leaf, at in ((LEAF[:31], AT), (LEAF, -1), (LEAF, 1 << 64), (LEAF, True)):
        with pytest.raises(CheckpointError):
            sign_receipt(leaf, at, KEY)


def test_a_receipt_signature_is_never_a_checkpoint_signature() -> None:
    # Same key for both: a receipt must not verify as a note and vice versa.
    note_signature = base64.b64decode(NOTE.rsplit(" ", 1)[1])[4:]
    assert not verify_receipt(LEAF, AT, note_signature, KEY.public_key())
    forged = (
        BODY
        + "\n"
        + f"{EM} {NAME} "
        + base64.b64encode(key_id(NAME, KEY.public_key()) + sign_receipt(LEAF, AT, KEY)).decode()
        + "\n"
    )
    with pytest.raises(CheckpointError):
        parse_and_verify(forged, VKEY)
