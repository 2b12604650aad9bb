"""The published test vectors of ``docs/vectors/`` against the SDK and the server's pure code.

``docs/contract.md`` points member engineers at these files: whatever they
say must be exactly what the registry does. The files are compared as
committed and never regenerated here; ``tests/support/vectors.py`` documents
how they were made (independently of the code under test) and how to remake
them when the contract changes.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from refund_registry.client.signing import Signer, body_hash
from refund_registry.domain import identity, merkle, oprf, tokens
from refund_registry.domain.access import AccessRecord, encode, micros
from refund_registry.domain.checkpoint import (
    CheckpointError,
    checkpoint_body,
    parse_and_verify,
    parse_verifier_key,
    receipt_message,
    sign_checkpoint,
    sign_receipt,
    verifier_key_string,
    verify_receipt,
)
from refund_registry.domain.keyring import parse_public_key
from refund_registry.domain.wire import b64url, b64url_decode
from refund_registry.errors import AuthenticationFailed
from refund_registry.services.authn import Authenticator, Caller, KeyCache
from refund_registry.storage.accesslog import receipt_for
from refund_registry.storage.cache import RedisBreaker, ReplayGuard
from tests.support.oprf_reference import (
    _scalar,
    ref_blind,
    ref_derive_key_pair,
    ref_evaluate,
    ref_finalize,
    ref_prove,
    ref_verify,
)

VECTOR_DIR = Path(__file__).resolve().parents[2] / "docs" / "vectors"
FILES = [
    "request_signing.json",
    "body_hash.json",
    "oprf.json",
    "receipt.json",
    "receipt-v2.json",
    "checkpoint.json",
]
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@cache
def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VECTOR_DIR / name).read_text(encoding="utf-8"))
    return document


def b64d(text: str) -> bytes:
    raw = b64url_decode(text)
    assert raw is not None, f"not canonical unpadded base64url: {text!r}"
    return raw


SIGNING = load("request_signing.json")
CASES = SIGNING["cases"]
REQUEST_CASES = [c for c in CASES if c["header"]["typ"] == tokens.REQUEST_TYP]
SUBJECT_CASES = [c for c in CASES if c["header"]["typ"] == tokens.SUBJECT_TYP]
OPRF = load("oprf.json")
RECEIPT = load("receipt.json")
CHECKPOINT = load("checkpoint.json")


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


@pytest.mark.parametrize("name", FILES)
def test_every_vector_file_is_listed_and_described(name: str) -> None:
    assert sorted(p.name for p in VECTOR_DIR.glob("*.json")) == sorted(FILES)
    description = load(name)["description"]
    assert isinstance(description, str)
    assert len(description) > 80


# --------------------------------------------------------------------------- (a) signed requests


def private_key(case: dict[str, Any]) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(case["private_key_pem"].encode(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey)
    return key


def request_of(case: dict[str, Any], **changes: Any) -> tuple[str, str, bytes]:
    request = {**case["request"], **changes}
    return request["method"], request["path_and_query"], bytes.fromhex(request["body_hex"])


def authenticator(case: dict[str, Any], now: float, audience: str | None = None) -> Authenticator:
    """The server's real authenticator, with the vector key as the only registered key."""
    row = {
        "kid": case["kid"],
        "principal_id": SIGNING["principal_id"],
        "role": "member",
        "name": "Vector Shop",
        "alg": case["alg"],
        "public_key_pem": case["public_key_pem"],
        "revoked_at": None,
        "status": "active",
    }

    async def loader(kid: str) -> dict[str, Any] | None:
        return row if kid == case["kid"] else None

    return Authenticator(
        KeyCache(loader, ttl=60),
        ReplayGuard(None, RedisBreaker(), fallback="memory"),
        audience=audience or SIGNING["audience"],
        leeway=SIGNING["clock_skew_seconds"],
        clock=lambda: now,
    )


async def authenticate_request(
    auth: Authenticator, token: str, method: str, path_and_query: str, body: bytes
) -> Caller:
    return await auth.request(
        f"Bearer {token}",
        method=method,
        path_and_query=path_and_query,
        body=body,
        roles=frozenset({"member"}),
    )


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_token_is_assembled_from_the_listed_bytes(case: dict[str, Any]) -> None:
    header_json, claims_json = case["header_json"].encode(), case["claims_json"].encode()
    assert json.loads(header_json) == case["header"]
    assert json.loads(claims_json) == case["claims"]
    assert case["signing_input"] == f"{b64url(header_json)}.{b64url(claims_json)}"
    assert case["token"] == f"{case['signing_input']}.{case['signature']}"
    assert len(b64d(case["signature"])) == 64
    assert case["header"]["kid"] == case["kid"]
    assert case["header"]["alg"] == case["alg"]
    claims = case["claims"]
    assert claims["iss"] == SIGNING["principal_id"]
    assert claims["aud"] == SIGNING["audience"]
    if "request" in case:
        method, path_and_query, body = request_of(case)
        assert (claims["htm"], claims["htu"]) == (method, path_and_query)
        assert claims["bsh"] == tokens.body_digest(body) == body_hash(body)
        assert claims["exp"] - claims["iat"] <= tokens.REQUEST_MAX_LIFETIME


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_keys_and_kid_are_what_registration_computes(case: dict[str, Any]) -> None:
    key = private_key(case)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_pem.decode() == case["public_key_pem"]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        assert key.private_bytes_raw().hex() == case["private_key_seed_hex"]
        assert key.public_key().public_bytes_raw().hex() == case["public_key_hex"]
    else:
        d = key.private_numbers().private_value
        assert d.to_bytes(32, "big").hex() == case["private_key_d_hex"]
    parsed = parse_public_key(public_pem)
    assert parsed.kid == case["kid"]
    assert parsed.alg == case["alg"]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_signature_verifies_and_ed25519_reproduces_it(case: dict[str, Any]) -> None:
    key = private_key(case)
    data = case["signing_input"].encode("ascii")
    signature = b64d(case["signature"])
    if isinstance(key, ed25519.Ed25519PrivateKey):
        assert case["deterministic"] is True
        assert key.sign(data) == signature
    else:
        assert case["deterministic"] is False
        assert signature.hex() == case["signature_r_hex"] + case["signature_s_hex"]
        der = utils.encode_dss_signature(
            int(case["signature_r_hex"], 16), int(case["signature_s_hex"], 16)
        )
        key.public_key().verify(der, data, ec.ECDSA(hashes.SHA256()))


def vector_signer(case: dict[str, Any]) -> Signer:
    """The SDK's signer set up as the vector was made: its key, clock and jti."""
    claims = case["claims"]
    return Signer(
        principal_id=claims["iss"],
        kid=case["kid"],
        private_key=private_key(case),
        audience=claims["aud"],
        lifetime=claims["exp"] - claims["iat"],
        clock=lambda: claims["iat"] + 0.9,
        jti_factory=lambda: claims["jti"],
    )


def signer_token(case: dict[str, Any], signer: Signer) -> str:
    claims = case["claims"]
    if "request" in case:
        return signer.request_token(*request_of(case))
    return signer.subject_token(claims["pseudonyms"], lifetime=claims["exp"] - claims["iat"])


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
async def test_the_sdk_signer_makes_the_vector_token(case: dict[str, Any]) -> None:
    token = signer_token(case, vector_signer(case))
    signing_input, _, signature = token.rpartition(".")
    # Header and claims byte for byte: same members, same order, same spelling.
    assert signing_input == case["signing_input"]
    if case["deterministic"]:
        assert token == case["token"]  # Ed25519: the whole token, signature included
    else:
        # ECDSA draws a fresh nonce, so only the signature differs: raw r || s
        # (never DER), low s, and it verifies under the vector's key.
        raw = b64d(signature)
        assert len(raw) == 64
        assert int.from_bytes(raw[32:], "big") <= P256_ORDER // 2
        der = utils.encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        public = private_key(case).public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(der, signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    auth = authenticator(case, case["now"])
    if "request" in case:
        caller = await authenticate_request(auth, token, *request_of(case))
        assert caller.jti == case["claims"]["jti"]
    else:
        _, pseudonyms = await auth.subject(f"Bearer {token}")
        assert pseudonyms == case["claims"]["pseudonyms"]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_the_sdk_signer_draws_a_fresh_jti_by_default(case: dict[str, Any]) -> None:
    fixed = vector_signer(case)
    signer = Signer(
        fixed.principal_id,
        fixed.kid,
        fixed.private_key,
        audience=fixed.audience,
        lifetime=fixed.lifetime,
        clock=fixed.clock,
    )
    first, second = (json.loads(b64d(signer_token(case, signer).split(".")[1])) for _ in "12")
    assert first["jti"] != second["jti"]
    assert 8 <= len(first["jti"]) <= 128
    assert {**first, "jti": case["claims"]["jti"]} == case["claims"]


@pytest.mark.parametrize("case", REQUEST_CASES, ids=_ids(REQUEST_CASES))
async def test_server_accepts_the_request_token_once(case: dict[str, Any]) -> None:
    auth = authenticator(case, case["now"])
    caller = await authenticate_request(auth, case["token"], *request_of(case))
    assert caller.principal_id == SIGNING["principal_id"]
    assert caller.kid == case["kid"]
    assert caller.jti == case["claims"]["jti"]
    signing_input = case["token"].rsplit(".", 1)[0]
    assert caller.request_digest == tokens.body_digest(signing_input.encode())
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate_request(auth, case["token"], *request_of(case))
    assert caught.value.code == "auth.replayed"


@pytest.mark.parametrize("case", SUBJECT_CASES, ids=_ids(SUBJECT_CASES))
async def test_server_accepts_the_subject_token(case: dict[str, Any]) -> None:
    auth = authenticator(case, case["now"])
    caller, pseudonyms = await auth.subject(f"Bearer {case['token']}")
    assert caller.principal_id == SIGNING["principal_id"]
    assert caller.role == "buyer"
    assert pseudonyms == case["claims"]["pseudonyms"]
    assert case["claims"]["exp"] - case["claims"]["iat"] <= tokens.SUBJECT_MAX_LIFETIME
    # A subject token is not a request token, and the other way round.
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate_request(auth, case["token"], "GET", "/v1/subject/record", b"")
    assert caught.value.code == "auth.wrong_type"
    request_case = REQUEST_CASES[0]
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticator(request_case, request_case["now"]).subject(
            f"Bearer {request_case['token']}"
        )
    assert caught.value.code == "auth.wrong_type"


def _one_character_changes(token: str) -> list[str]:
    out = []
    for i, char in enumerate(token):
        other = "A" if char != "A" else "B"
        out.append(token[:i] + other + token[i + 1 :])
    return out


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
async def test_every_one_character_change_is_refused(case: dict[str, Any]) -> None:
    auth = authenticator(case, case["now"])

    async def present(token: str) -> object:
        if "request" in case:
            return await authenticate_request(auth, token, *request_of(case))
        return await auth.subject(f"Bearer {token}")

    for changed in _one_character_changes(case["token"]):
        with pytest.raises(AuthenticationFailed):
            await present(changed)


@pytest.mark.parametrize("refusal", SIGNING["refusals"], ids=lambda r: r["description"])
async def test_refusals_name_the_failed_check(refusal: dict[str, Any]) -> None:
    case = REQUEST_CASES[0]
    auth = authenticator(case, refusal.get("now", case["now"]), refusal.get("audience"))
    token = refusal.get("token", case["token"])
    request = request_of(case, **refusal.get("request", {}))
    if refusal.get("replay"):
        await authenticate_request(auth, token, *request_of(case))
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate_request(auth, token, *request)
    assert caught.value.code == refusal["expected_code"]


def test_pure_verification_accepts_the_vectors() -> None:
    # The same checks without the key cache and replay guard: what a server-side
    # port of domain.tokens must reproduce.
    for case in CASES:
        typ = case["header"]["typ"]
        head = tokens.peek(case["token"], typ)
        assert head.signing_input == case["signing_input"].encode()
        public = serialization.load_pem_public_key(case["public_key_pem"].encode())
        assert isinstance(public, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey)
        is_request = typ == tokens.REQUEST_TYP
        verified = tokens.verify(
            case["token"],
            head=head,
            key_principal=SIGNING["principal_id"],
            key_alg=case["alg"],
            key=public,
            audience=SIGNING["audience"],
            now=case["now"],
            leeway=SIGNING["clock_skew_seconds"],
            max_lifetime=tokens.REQUEST_MAX_LIFETIME if is_request else tokens.SUBJECT_MAX_LIFETIME,
            required=("htm", "htu", "bsh") if is_request else ("pseudonyms",),
        )
        assert dict(verified.claims) == case["claims"]
        if is_request:
            method, path_and_query, body = request_of(case)
            tokens.check_request_binding(
                verified.claims, method=method, path_and_query=path_and_query, body=body
            )


# --------------------------------------------------------------------------- (b) bsh


@pytest.mark.parametrize("case", load("body_hash.json")["cases"], ids=lambda c: c["name"])
def test_body_hash(case: dict[str, Any]) -> None:
    body = bytes.fromhex(case["body_hex"])
    assert body == case["body_utf8"].encode("utf-8")
    assert body_hash(body) == tokens.body_digest(body) == case["bsh"]
    assert b64d(case["bsh"]).hex() == case["sha256_hex"]
    assert len(case["bsh"]) == 43


# --------------------------------------------------------------------------- (c) pseudonyms


@pytest.fixture(scope="module")
def server_key() -> oprf.ServerKey:
    key = OPRF["key"]
    assert key["info"].encode() == bytes.fromhex(key["info_hex"]) == oprf.KEY_INFO
    return oprf.load_server_key(bytes.fromhex(key["seed_hex"]))


def test_key_seed_gives_the_public_key(server_key: oprf.ServerKey) -> None:
    key = OPRF["key"]
    assert OPRF["suite"] == key["public_key_document"]["suite"] == oprf.SUITE
    assert server_key.public_key == b64d(key["public_key"]) == bytes.fromhex(key["public_key_hex"])
    assert key["public_key_document"]["public_key"] == key["public_key"]
    assert oprf.check_public_key(server_key.public_key) == server_key.public_key
    sk, pk = ref_derive_key_pair(bytes.fromhex(key["seed_hex"]), bytes.fromhex(key["info_hex"]))
    assert sk.to_bytes(32, "little").hex() == key["secret_scalar_hex"]
    assert pk == server_key.public_key


@pytest.mark.parametrize("item", OPRF["identifiers"], ids=lambda i: i["kind"])
def test_normalisation_and_oprf_input(item: dict[str, Any]) -> None:
    assert identity.NORM_VERSION == 1
    assert identity.normalise(item["kind"], item["raw"]) == item["normalised"]
    assert identity.normalise(item["kind"], item["normalised"]) == item["normalised"]
    data = identity.oprf_input(item["kind"], item["normalised"])
    assert data == bytes.fromhex(item["oprf_input_hex"]) == item["oprf_input"].encode("utf-8")
    assert item["oprf_input"] == f"{item['kind']}|1|{item['normalised']}"


@pytest.mark.parametrize("item", OPRF["identifiers"], ids=lambda i: i["kind"])
def test_pseudonym_of_each_identifier(item: dict[str, Any], server_key: oprf.ServerKey) -> None:
    data = bytes.fromhex(item["oprf_input_hex"])
    output = oprf.evaluate_known_input(server_key, data)
    assert output.hex() == item["pseudonym_hex"]
    assert oprf.pseudonym_to_str(output) == item["pseudonym"]
    assert len(item["pseudonym"]) == oprf.PSEUDONYM_TEXT_LEN == 86
    # The server half of the blinded protocol, one element at a time.
    blinded = b64d(item["blinded_element"])
    evaluated, proof = oprf.evaluate_batch(server_key, [blinded])
    assert evaluated == [b64d(item["evaluated_element"])]
    assert ref_verify(server_key.public_key, [blinded], evaluated, proof)
    # The client half, with the vector's fixed blind, on the reference.
    blind = _scalar(bytes.fromhex(item["blind_hex"]))
    assert ref_blind(data, blind) == blinded
    assert ref_finalize(data, blind, evaluated[0]) == output


def test_batch_answer_and_its_proof(server_key: oprf.ServerKey) -> None:
    batch = OPRF["batch"]
    blinded = [b64d(b) for b in batch["request"]["blinded"]]
    expected = [b64d(e) for e in batch["response"]["evaluated"]]
    vector_proof = b64d(batch["response"]["proof"])
    assert blinded == [b64d(i["blinded_element"]) for i in OPRF["identifiers"]]
    evaluated, proof = oprf.evaluate_batch(server_key, blinded)
    assert evaluated == expected
    pk = server_key.public_key
    assert ref_verify(pk, blinded, evaluated, proof)  # the server's own, fresh nonce
    assert ref_verify(pk, blinded, expected, vector_proof)
    sk = _scalar(bytes.fromhex(OPRF["key"]["secret_scalar_hex"]))
    nonce = _scalar(bytes.fromhex(batch["proof_nonce_hex"]))
    assert [ref_evaluate(sk, b) for b in blinded] == expected
    assert ref_prove(sk, pk, blinded, expected, nonce) == vector_proof
    for i in (0, 31, 32, 63):
        tampered = bytearray(vector_proof)
        tampered[i] ^= 0x01
        assert not ref_verify(pk, blinded, expected, bytes(tampered))
    assert not ref_verify(pk, blinded, expected[::-1], vector_proof)


# --------------------------------------------------------------------------- (d) receipts


def log_private_key(document: dict[str, Any]) -> ed25519.Ed25519PrivateKey:
    seed = bytes.fromhex(document["log_key"]["private_key_seed_hex"])
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def test_receipt_entry_is_the_access_log_encoding() -> None:
    entry = RECEIPT["entry"]
    fields = entry["fields"]
    at = datetime.fromtimestamp(fields["at"] // 1_000_000, tz=UTC).replace(
        microsecond=fields["at"] % 1_000_000
    )
    record = AccessRecord(
        at=at,
        actor=fields["actor"],
        role=fields["role"],
        action=fields["action"],
        request_digest=fields["request"],
        subject_keys=[b64d(entry["subject_key_b64url"])],
        purpose=fields.get("purpose"),
        outcome=fields.get("outcome"),
        query_id=fields.get("query_id"),
    )
    encoded = encode(record, salts=[b64d(entry["salt_b64url"])])
    assert encoded.entry == entry["bytes_utf8"].encode() == b64d(entry["leaf_b64url"])
    assert encoded.leaf_hash.hex() == RECEIPT["leaf_hash_hex"]
    assert merkle.leaf_hash(encoded.entry) == encoded.leaf_hash
    assert encoded.at_micros == RECEIPT["logged_at_micros"]
    assert receipt_for(encoded, log_private_key(RECEIPT)) == RECEIPT["receipt"]


def test_receipt_signature_and_verification() -> None:
    key = log_private_key(RECEIPT)
    public = key.public_key()
    assert public.public_bytes_raw().hex() == RECEIPT["log_key"]["public_key_hex"]
    receipt = RECEIPT["receipt"]
    leaf = b64d(receipt["leaf_hash"])
    at = micros(datetime.fromisoformat(receipt["logged_at"]))
    signature = b64d(receipt["signature"])
    assert leaf.hex() == RECEIPT["leaf_hash_hex"]
    assert at == RECEIPT["logged_at_micros"]
    assert signature.hex() == RECEIPT["signature_hex"]
    message = receipt_message(leaf, at)
    assert message.hex() == RECEIPT["signed_message_hex"]
    assert len(message) == 67
    assert sign_receipt(leaf, at, key) == signature
    assert verify_receipt(leaf, at, signature, public)
    # Anything else is refused: another time, another leaf, a flipped signature bit,
    # another key.
    assert not verify_receipt(leaf, at + 1, signature, public)
    assert not verify_receipt(bytes([leaf[0] ^ 1]) + leaf[1:], at, signature, public)
    assert not verify_receipt(leaf, at, bytes([signature[0] ^ 1]) + signature[1:], public)
    other = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    assert not verify_receipt(leaf, at, signature, other)


# --------------------------------------------------------------------------- (e) checkpoints


def test_checkpoint_note_verifies_and_is_reproduced() -> None:
    key = log_private_key(CHECKPOINT)
    log_key = CHECKPOINT["log_key"]
    assert log_key == RECEIPT["log_key"]  # one log key signs receipts and checkpoints
    name = log_key["name"]
    assert verifier_key_string(name, key.public_key()) == log_key["verifier_key"]
    verifier = parse_verifier_key(log_key["verifier_key"])
    assert verifier.key_id.hex() == log_key["key_id_hex"]
    checkpoint = parse_and_verify(CHECKPOINT["note"], log_key["verifier_key"], origin=name)
    assert checkpoint.origin == name
    assert checkpoint.size == CHECKPOINT["tree_size"]
    assert checkpoint.root.hex() == CHECKPOINT["root_hash_hex"]
    assert checkpoint_body(name, checkpoint.size, checkpoint.root) == CHECKPOINT["note_text"]
    note = sign_checkpoint(name, checkpoint.size, checkpoint.root, name, key)
    assert note == CHECKPOINT["note"]
    signature_line = note.rsplit("\n", 2)[1]
    blob = base64.b64decode(signature_line.split(" ")[2])
    assert blob.hex() == log_key["key_id_hex"] + CHECKPOINT["signature_hex"]


def test_every_one_character_change_of_the_note_is_refused() -> None:
    note = CHECKPOINT["note"]
    vkey = CHECKPOINT["log_key"]["verifier_key"]
    for i, char in enumerate(note):
        other = "A" if char != "A" else "B"
        with pytest.raises(CheckpointError):
            parse_and_verify(note[:i] + other + note[i + 1 :], vkey)


def test_tree_root_and_proofs() -> None:
    entries = [b64d(e) for e in CHECKPOINT["entries_b64url"]]
    leaves = [merkle.leaf_hash(e) for e in entries]
    assert [h.hex() for h in leaves] == CHECKPOINT["leaf_hashes_hex"]
    assert entries[2] == b64d(RECEIPT["entry"]["leaf_b64url"])
    appended = merkle.Frontier().append(leaves)
    root = appended.frontier.root()
    assert root.hex() == CHECKPOINT["root_hash_hex"]
    nodes = {(n.level, n.index): n.hash for n in appended.nodes}

    def get_node(level: int, index: int) -> bytes:
        return nodes[level, index]

    inclusion = CHECKPOINT["inclusion_proof"]
    response = inclusion["response"]
    leaf = b64d(inclusion["leaf_hash"])
    assert leaf == b64d(RECEIPT["receipt"]["leaf_hash"])
    hashes = [b64d(h) for h in response["hashes"]]
    index, size = response["leaf_index"], response["tree_size"]
    assert merkle.inclusion_proof(index, size, get_node) == hashes
    assert merkle.verify_inclusion(leaf, index, size, hashes, root)
    assert not merkle.verify_inclusion(leaf, index + 1, size, hashes, root)

    consistency = CHECKPOINT["consistency_proof"]
    response = consistency["response"]
    first, second = response["first"], response["second"]
    hashes = [b64d(h) for h in response["hashes"]]
    first_root = bytes.fromhex(consistency["first_root_hash_hex"])
    assert merkle.Frontier().append(leaves[:first]).frontier.root() == first_root
    assert merkle.consistency_proof(first, second, get_node) == hashes
    assert merkle.verify_consistency(first, second, first_root, root, hashes)
    assert not merkle.verify_consistency(first, second, root, first_root, hashes)
