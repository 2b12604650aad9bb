"""Generate the known-answer vectors of ``docs/vectors/`` (see ``docs/contract.md``).

Regenerate (only when the contract itself changes, and review the diff)::

    .venv/bin/python -m tests.support.vectors          # rewrite docs/vectors/*.json
    .venv/bin/python -m tests.support.vectors --check  # exit 1 if a file would change

Every value is computed here *independently of the code under test*: tokens are
assembled by hand from their JSON bytes, the OPRF runs on the naive reference of
``tests/support/oprf_reference.py`` with fixed blinds and a fixed proof nonce,
receipts and notes are signed with ``cryptography`` directly, and the Merkle
tree is built by the recursive definitions of RFC 9162. The registry's own code
is then checked against the committed files by ``tests/unit/test_vectors.py``,
which never regenerates them.

All keys below are derived from fixed labels and are public test keys: never
register them anywhere.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from tests.support import oprf_reference as ref

VECTOR_DIR = Path(__file__).resolve().parents[2] / "docs" / "vectors"

AUDIENCE = "https://registry.example"
LEEWAY = 30  # the server's default clock-skew allowance, in seconds
IAT = 1_767_225_600  # 2026-01-01T00:00:00Z
MEMBER_ID = "mbr_5eed0000c0ffee01"
LOG_ORIGIN = "refund-registry.example/log"
RECEIPT_CONTEXT = b"refund-registry receipt v1\n"
RECEIPT_V2_CONTEXT = b"refund-registry receipt v2\n"
RECEIPT_V2_LEAF_CONTEXT = b"refund-registry receipt v2 leaf\n"
KEY_INFO = b"refund-registry keyservice v1"
EM_DASH = "\u2014"


# --------------------------------------------------------------------------- helpers


def label_bytes(label: str) -> bytes:
    """32 fixed bytes named by ``label``: how every test key here is chosen."""
    return hashlib.sha256(b"refund-registry test vector: " + label.encode()).digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64std(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def compact_json(value: Any, *, sort_keys: bool = False) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys).encode("utf-8")


def bsh(body: bytes) -> str:
    return b64url(hashlib.sha256(body).digest())


def ed25519_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(label_bytes(label))


def p256_key(label: str) -> ec.EllipticCurvePrivateKey:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    d = int.from_bytes(label_bytes(label), "big") % (order - 1) + 1
    return ec.derive_private_key(d, ec.SECP256R1())


def private_pem(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def public_pem(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def jwk(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public JWK with exactly the RFC 7638 thumbprint members, in lexical order."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url(key.public_key().public_bytes_raw())}
    numbers = key.public_key().public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(jwk_members: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, no whitespace; base64url."""
    return b64url(hashlib.sha256(compact_json(jwk_members, sort_keys=True)).digest())


def iso_micros(micros: int) -> str:
    moment = datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- (c) OPRF


IDENTIFIERS = [
    # (kind, raw value as a member's form might hold it, normalised value)
    ("phone", "\uff0b86 138-\uff11\uff12\uff13\uff14-5678", "+8613812345678"),
    ("email", "Zhang.Wei@B\u00dcCHER.de", "zhang.wei@xn--bcher-kva.de"),
    ("national_id", " 11010519491231002x ", "11010519491231002X"),
]


def oprf_vectors() -> dict[str, Any]:
    seed = label_bytes("keyservice seed")
    sk, pk = ref.ref_derive_key_pair(seed, KEY_INFO)
    items: list[dict[str, Any]] = []
    inputs: list[bytes] = []
    blinds: list[int] = []
    blinded: list[bytes] = []
    for index, (kind, raw, normalised) in enumerate(IDENTIFIERS):
        data = f"{kind}|1|{normalised}".encode()
        blind = ref._hash_to_scalar(label_bytes(f"blind {index}")) or 1
        element = ref.ref_blind(data, blind)
        evaluated = ref.ref_evaluate(sk, element)
        output = ref.ref_finalize(data, blind, evaluated)
        inputs.append(data)
        blinds.append(blind)
        blinded.append(element)
        items.append(
            {
                "kind": kind,
                "raw": raw,
                "normalised": normalised,
                "oprf_input": data.decode("utf-8"),
                "oprf_input_hex": data.hex(),
                "blind_hex": blind.to_bytes(32, "little").hex(),
                "blinded_element": b64url(element),
                "evaluated_element": b64url(ref.ref_evaluate(sk, element)),
                "pseudonym_hex": output.hex(),
                "pseudonym": b64url(output),
            }
        )
    evaluated_all = [ref.ref_evaluate(sk, b) for b in blinded]
    nonce = ref._hash_to_scalar(label_bytes("proof nonce")) or 1
    proof = ref.ref_prove(sk, pk, blinded, evaluated_all, nonce)
    assert ref.ref_verify(pk, blinded, evaluated_all, proof)
    return {
        "description": (
            "Pseudonym derivation, RFC 9497 VOPRF with ristretto255-SHA512. A fixed 32-byte "
            "seed and key info give the key service's key pair (DeriveKeyPair). Each raw "
            "identifier is normalised, turned into the OPRF input 'kind|1|normalised' (UTF-8), "
            "blinded with a fixed scalar (little-endian, as RFC 9497 serialises scalars), "
            "evaluated, and finalised into the 64-byte pseudonym (86 characters of unpadded "
            "base64url). 'batch' is one key-service request holding the three blinded elements "
            "and its single batched DLEQ proof (c || s), made with a fixed nonce; a real key "
            "service draws a fresh nonce, so its proofs differ but verify the same way. Real "
            "clients draw a fresh random blind for every request: the blinded and evaluated "
            "elements then differ from these, the pseudonym does not. All binary values are "
            "unpadded base64url unless the field name ends in _hex."
        ),
        "suite": "ristretto255-SHA512",
        "mode": "VOPRF (0x01)",
        "key": {
            "seed_hex": seed.hex(),
            "info": KEY_INFO.decode("ascii"),
            "info_hex": KEY_INFO.hex(),
            "secret_scalar_hex": sk.to_bytes(32, "little").hex(),
            "public_key": b64url(pk),
            "public_key_hex": pk.hex(),
            "public_key_document": {"suite": "ristretto255-SHA512", "public_key": b64url(pk)},
        },
        "identifiers": items,
        "batch": {
            "request": {"blinded": [b64url(b) for b in blinded]},
            "response": {
                "evaluated": [b64url(e) for e in evaluated_all],
                "proof": b64url(proof),
            },
            "proof_nonce_hex": nonce.to_bytes(32, "little").hex(),
        },
    }


# --------------------------------------------------------------------------- (b) bsh


BODIES = [
    ("empty body (every GET and DELETE, and a POST without a body)", b""),
    ("empty JSON object", b"{}"),
    ("the same object with a trailing newline: a different digest", b"{}\n"),
    (
        "a risk query; non-ASCII text is hashed as its UTF-8 bytes",
        '{"purpose":"refund_decision","note":"\u9000\u6b3e"}'.encode(),
    ),
]


def bsh_vectors() -> dict[str, Any]:
    return {
        "description": (
            "The 'bsh' claim of a signed request: SHA-256 of the exact body bytes sent on the "
            "wire, as unpadded base64url (43 characters). A request without a body hashes the "
            "empty string. Re-serialising the JSON after signing (other key order, spaces, a "
            "trailing newline) changes the digest and the request is refused."
        ),
        "cases": [
            {
                "name": name,
                "body_hex": body.hex(),
                "body_utf8": body.decode("utf-8"),
                "sha256_hex": hashlib.sha256(body).hexdigest(),
                "bsh": bsh(body),
            }
            for name, body in BODIES
        ],
    }


# --------------------------------------------------------------------------- (a) signing


def _sign(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    # RFC 6979 deterministic ECDSA only so that regenerating gives the same file;
    # any valid signature is as good, and most libraries randomise.
    der = key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = utils.decode_dss_signature(der)
    # The registry accepts only the low-s twin of an ECDSA signature.
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    s = min(s, order - s)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _token_case(
    name: str,
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey,
    typ: str,
    claims: dict[str, Any],
    request: dict[str, Any] | None,
) -> dict[str, Any]:
    alg = "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "ES256"
    members = jwk(key)
    kid = thumbprint(members)
    header = {"alg": alg, "kid": kid, "typ": typ}
    header_json = compact_json(header, sort_keys=True)
    claims_json = compact_json(claims)
    signing_input = f"{b64url(header_json)}.{b64url(claims_json)}"
    signature = _sign(key, signing_input.encode("ascii"))
    case: dict[str, Any] = {"name": name, "alg": alg}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        case["private_key_seed_hex"] = key.private_bytes_raw().hex()
        case["public_key_hex"] = key.public_key().public_bytes_raw().hex()
    else:
        case["private_key_d_hex"] = key.private_numbers().private_value.to_bytes(32, "big").hex()
    case.update(
        {
            "private_key_pem": private_pem(key),
            "public_key_pem": public_pem(key),
            "public_jwk": members,
            "kid": kid,
            "header": header,
            "header_json": header_json.decode("utf-8"),
            "claims": claims,
            "claims_json": claims_json.decode("utf-8"),
            "signing_input": signing_input,
            "signature": b64url(signature),
            "token": f"{signing_input}.{b64url(signature)}",
            "deterministic": alg == "EdDSA",
        }
    )
    if alg == "ES256":
        case["signature_r_hex"] = signature[:32].hex()
        case["signature_s_hex"] = signature[32:].hex()
    if request is not None:
        case["request"] = request
    case["now"] = claims["iat"] + 5
    return case


def _request(method: str, path_and_query: str, body: bytes) -> dict[str, Any]:
    return {
        "method": method,
        "path_and_query": path_and_query,
        "body_hex": body.hex(),
        "body_utf8": body.decode("utf-8"),
    }


def signing_vectors(oprf: dict[str, Any]) -> dict[str, Any]:
    ed_key = ed25519_key("member ed25519 key")
    ec_key = p256_key("member p-256 key")
    phone = oprf["identifiers"][0]["pseudonym"]
    query_body = compact_json(
        {"identifiers": [{"kind": "phone", "pseudonym": phone}], "purpose": "refund_decision"}
    )
    evaluate_body = compact_json({"blinded": oprf["batch"]["request"]["blinded"]})

    def claims(jti: str, lifetime: int, **extra: Any) -> dict[str, Any]:
        return {
            "iss": MEMBER_ID,
            "aud": AUDIENCE,
            "iat": IAT,
            "exp": IAT + lifetime,
            "jti": jti,
            **extra,
        }

    post = _token_case(
        "EdDSA, POST with a JSON body",
        ed_key,
        "rr-req+jwt",
        claims(
            "vEctor-jti-0001-Ed25519-post",
            60,
            htm="POST",
            htu="/v1/risk/query",
            bsh=bsh(query_body),
        ),
        _request("POST", "/v1/risk/query", query_body),
    )
    get = _token_case(
        "EdDSA, GET with a query string and no body",
        ed_key,
        "rr-req+jwt",
        claims(
            "vEctor-jti-0002-Ed25519-get",
            120,
            htm="GET",
            htu="/v1/reports?status=active&limit=10",
            bsh=bsh(b""),
        ),
        _request("GET", "/v1/reports?status=active&limit=10", b""),
    )
    es256 = _token_case(
        "ES256, POST to the key service",
        ec_key,
        "rr-req+jwt",
        claims(
            "vEctor-jti-0003-ES256-evaluate",
            60,
            htm="POST",
            htu="/v1/keyservice/evaluate",
            bsh=bsh(evaluate_body),
        ),
        _request("POST", "/v1/keyservice/evaluate", evaluate_body),
    )
    subject = _token_case(
        "EdDSA subject token (member hand-off of a signed-in buyer)",
        ed_key,
        "rr-subject+jwt",
        claims(
            "vEctor-jti-0004-subject",
            600,
            pseudonyms=[{"kind": "phone", "value": phone}],
        ),
        None,
    )
    token = post["token"]
    signing_input, signature = token.rsplit(".", 1)
    flipped = signature[:10] + ("B" if signature[10] != "B" else "C") + signature[11:]
    refusals = [
        {
            "description": "one character of the signature changed",
            "token": f"{signing_input}.{flipped}",
            "expected_code": "auth.bad_signature",
        },
        {
            "description": "checked after exp plus the allowed clock skew",
            "now": post["claims"]["exp"] + LEEWAY,
            "expected_code": "auth.expired",
        },
        {
            "description": "iat more than the allowed clock skew ahead of the server's clock",
            "now": post["claims"]["iat"] - LEEWAY - 1,
            "expected_code": "auth.not_yet_valid",
        },
        {
            "description": "the body was re-serialised with a space after signing",
            "request": {"body_hex": query_body.replace(b",", b", ", 1).hex()},
            "expected_code": "auth.body_mismatch",
        },
        {
            "description": "the query string was added after signing",
            "request": {"path_and_query": "/v1/risk/query?x=1"},
            "expected_code": "auth.path_mismatch",
        },
        {
            "description": "sent with another method",
            "request": {"method": "PUT"},
            "expected_code": "auth.method_mismatch",
        },
        {
            "description": "another audience configured on the server",
            "audience": "https://another-registry.example",
            "expected_code": "auth.audience",
        },
        {
            "description": "the same token presented a second time",
            "replay": True,
            "expected_code": "auth.replayed",
        },
    ]
    return {
        "description": (
            "Signed requests and subject tokens: JWS compact serialisation (RFC 7515) of a JSON "
            "header and claims. 'header_json' and 'claims_json' are the exact UTF-8 bytes that "
            "were base64url-encoded; the server verifies the segments as received and never "
            "re-serialises, so any JSON spelling of the same values is fine. The signing input "
            "is ASCII 'base64url(header).base64url(claims)'. EdDSA (Ed25519, RFC 8032) is "
            "deterministic: the same key and input give the same signature, byte for byte. "
            "ES256 signatures are the raw 64-byte r || s (RFC 7518 section 3.4), not DER, "
            "with s in the lower half of the group order (s <= n/2: replace a high s by n - s; "
            "a high-s signature is refused with auth.high_s_signature); "
            "ECDSA is normally randomised, so your signature will differ from the one here "
            "(made deterministically per RFC 6979 only to keep this file stable) - check that "
            "yours verifies, not that it matches. 'kid' is the RFC 7638 JWK thumbprint of the "
            "public key. 'now' is a server time (Unix seconds) at which the token is accepted "
            "for 'request'; the server allows 30 seconds of clock skew by default. 'refusals' "
            "apply to the first case: each changes one thing and names the problem 'code' of "
            "the 401 answer."
        ),
        "audience": AUDIENCE,
        "clock_skew_seconds": LEEWAY,
        "principal_id": MEMBER_ID,
        "cases": [post, get, es256, subject],
        "refusals": refusals,
    }


# ----------------------------------------------------------------- (d) receipt, (e) checkpoint


def _entries() -> list[dict[str, Any]]:
    """Five access-log entries as their decoded fields, at fixed microsecond times."""
    base = 1_767_268_496_789_012  # 2026-01-01T11:54:56.789012Z
    subject_key = label_bytes("subject key")
    salt = label_bytes("salt")[:16]
    commitment = b64url(hashlib.sha256(salt + subject_key).digest())
    request = b64url(hashlib.sha256(b"a signed request token").digest())
    out = []
    for i, action in enumerate(
        ["report.file", "risk.query", "risk.query", "subject.access", "report.read"]
    ):
        fields: dict[str, Any] = {
            "v": 1,
            "at": base + i * 250_000,
            "actor": MEMBER_ID,
            "role": "member",
            "action": action,
            "request": request,
            "subjects": [commitment],
        }
        if action == "risk.query":
            fields.update(
                {"purpose": "refund_decision", "outcome": "low", "query_id": f"qry_{i:016x}"}
            )
        out.append(fields)
    return out


def _leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.1, by the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: Sequence[bytes], known: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if known else [_mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], known), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def _log_key() -> tuple[ed25519.Ed25519PrivateKey, dict[str, Any]]:
    key = ed25519_key("log key")
    public = key.public_key().public_bytes_raw()
    key_id = hashlib.sha256(LOG_ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    typed = b64std(b"\x01" + public)
    return key, {
        "name": LOG_ORIGIN,
        "private_key_seed_hex": key.private_bytes_raw().hex(),
        "public_key_hex": public.hex(),
        "public_key_pem": public_pem(key),
        "key_id_hex": key_id.hex(),
        "verifier_key": f"{LOG_ORIGIN}+{key_id.hex()}+{typed}",
    }


RECEIPT_INDEX = 2


def receipt_vectors() -> dict[str, Any]:
    key, log_key = _log_key()
    fields = _entries()[RECEIPT_INDEX]
    entry = compact_json(fields, sort_keys=True)
    leaf = _leaf_hash(entry)
    micros = fields["at"]
    message = RECEIPT_CONTEXT + leaf + micros.to_bytes(8, "big")
    signature = key.sign(message)
    return {
        "description": (
            "A receipt {leaf_hash, logged_at, signature} as attached to a logged answer. The "
            "log's Ed25519 key (the same key that signs checkpoints) signs exactly 67 bytes: "
            "the ASCII line 'refund-registry receipt v1' with its newline (27 bytes), the "
            "32-byte RFC 9162 leaf hash SHA-256(0x00 || entry bytes), and logged_at as "
            "microseconds since the Unix epoch, unsigned 64-bit big-endian. In JSON, leaf_hash "
            "and signature are unpadded base64url and logged_at is the same instant in RFC 3339 "
            "UTC with exactly six fractional digits. 'entry' shows the canonical JSON bytes of "
            "the access-log entry behind the leaf (keys sorted, no whitespace); its salt and "
            "subject key show how the subject commitment SHA-256(salt || subject key) is "
            "formed. Redeem a receipt for an inclusion proof with GET "
            "/v1/audit/proof/inclusion?leaf_hash=<leaf_hash>&tree_size=<size of a checkpoint>; "
            "checkpoint.json holds this entry at index 2 of a five-entry log."
        ),
        "log_key": log_key,
        "entry": {
            "fields": fields,
            "bytes_utf8": entry.decode("utf-8"),
            "leaf_b64url": b64url(entry),
            "subject_key_b64url": b64url(label_bytes("subject key")),
            "salt_b64url": b64url(label_bytes("salt")[:16]),
        },
        "leaf_hash_hex": leaf.hex(),
        "logged_at_micros": micros,
        "signed_message_hex": message.hex(),
        "signature_hex": signature.hex(),
        "receipt": {
            "leaf_hash": b64url(leaf),
            "logged_at": iso_micros(micros),
            "signature": b64url(signature),
        },
    }


def receipt_v2_vectors() -> dict[str, Any]:
    """The five entries of checkpoint.json written by one flush, with version-2 receipts."""
    key, log_key = _log_key()
    fields = _entries()
    entries = [compact_json(f, sort_keys=True) for f in fields]
    leaves = [_leaf_hash(e) for e in entries]
    times = [f["at"] for f in fields]
    receipt_leaves = [
        RECEIPT_V2_LEAF_CONTEXT + leaf + at.to_bytes(8, "big")
        for leaf, at in zip(leaves, times, strict=True)
    ]
    tree = [_leaf_hash(r) for r in receipt_leaves]
    size = len(tree)
    root = _mth(tree)
    message = RECEIPT_V2_CONTEXT + size.to_bytes(8, "big") + root
    signature = key.sign(message)
    receipts = [
        {
            "v": 2,
            "leaf_hash": b64url(leaf),
            "logged_at": iso_micros(at),
            "index": i,
            "tree_size": size,
            "path": [b64url(h) for h in _path(i, tree)],
            "signature": b64url(signature),
        }
        for i, (leaf, at) in enumerate(zip(leaves, times, strict=True))
    ]
    mine = receipts[RECEIPT_INDEX]
    return {
        "description": (
            "Version-2 receipts (asked for with the request header Registry-Receipt-Version: 2): "
            "the five entries of checkpoint.json, written by one group commit, share one "
            "signature. Each entry's receipt leaf is 72 bytes: the ASCII line 'refund-registry "
            "receipt v2 leaf' with its newline (32 bytes), the entry's 32-byte access-log leaf "
            "hash, and logged_at as microseconds since the Unix epoch, unsigned 64-bit "
            "big-endian. The receipt leaves, in order, form an RFC 9162 tree: leaf hash "
            "SHA-256(0x00 || receipt leaf), node SHA-256(0x01 || left || right). The log key "
            "signs exactly 67 bytes: the ASCII line 'refund-registry receipt v2' with its "
            "newline (27 bytes), the tree size (unsigned 64-bit big-endian) and the 32-byte "
            "root. Each receipt carries its index, the tree size, its RFC 9162 inclusion path "
            "(leaf upwards, unpadded base64url) and the shared signature. To verify: rebuild "
            "the receipt leaf, walk the path to the root (RFC 9162 section 2.1.3.2), rebuild "
            "the message and check the signature. 'invalid' lists receipts that must fail. "
            "The leaf_hash is redeemed for an inclusion proof in the log exactly as in "
            "receipt.json (checkpoint.json proves index 2)."
        ),
        "log_key": log_key,
        "entries_b64url": [b64url(e) for e in entries],
        "leaf_hashes_hex": [h.hex() for h in leaves],
        "logged_at_micros": times,
        "receipt_leaves_hex": [r.hex() for r in receipt_leaves],
        "receipt_leaf_hashes_hex": [h.hex() for h in tree],
        "tree_size": size,
        "root_hash_hex": root.hex(),
        "signed_message_hex": message.hex(),
        "signature_hex": signature.hex(),
        "receipts": receipts,
        "invalid": [
            {"why": "another index with the same path", "receipt": mine | {"index": 3}},
            {"why": "another tree size", "receipt": mine | {"tree_size": 6}},
            {"why": "a path one hash short", "receipt": mine | {"path": mine["path"][:-1]}},
            {
                "why": "logged_at one microsecond later",
                "receipt": mine | {"logged_at": iso_micros(times[RECEIPT_INDEX] + 1)},
            },
            {
                "why": "the version-1 signature of the same entry",
                "receipt": mine
                | {
                    "signature": b64url(
                        key.sign(
                            RECEIPT_CONTEXT
                            + leaves[RECEIPT_INDEX]
                            + times[RECEIPT_INDEX].to_bytes(8, "big")
                        )
                    )
                },
            },
        ],
    }


def checkpoint_vectors() -> dict[str, Any]:
    key, log_key = _log_key()
    entries = [compact_json(f, sort_keys=True) for f in _entries()]
    leaves = [_leaf_hash(e) for e in entries]
    size = len(leaves)
    root = _mth(leaves)
    body = f"{LOG_ORIGIN}\n{size}\n{b64std(root)}\n"
    signature = key.sign(body.encode("utf-8"))
    key_id = bytes.fromhex(log_key["key_id_hex"])
    note = f"{body}\n{EM_DASH} {LOG_ORIGIN} {b64std(key_id + signature)}\n"
    old_size = 3
    return {
        "description": (
            "A checkpoint of a five-entry access log as a C2SP signed note "
            "(c2sp.org/signed-note, c2sp.org/tlog-checkpoint), with its verifier key, and RFC "
            "9162 proofs as the API returns them. The note text is origin, tree size (decimal) "
            "and root hash (standard padded base64), each line ending in a newline; the "
            "Ed25519 signature covers that text including its last newline. The signature "
            "line is an em dash (U+2014), a space, the key name, a space and base64(4-byte key "
            "id || 64-byte signature). The key id is SHA-256(name || 0x0A || 0x01 || public "
            "key)[:4]; the verifier key is name+hex key id+base64(0x01 || public key). Leaf "
            "hashes are SHA-256(0x00 || entry), interior nodes SHA-256(0x01 || left || right). "
            "The inclusion proof is for the receipt of receipt.json (leaf index 2); the "
            "consistency proof is from the tree of the first 3 entries to this one."
        ),
        "log_key": log_key,
        "entries_b64url": [b64url(e) for e in entries],
        "leaf_hashes_hex": [h.hex() for h in leaves],
        "tree_size": size,
        "root_hash_hex": root.hex(),
        "note_text": body,
        "signature_hex": signature.hex(),
        "note": note,
        "inclusion_proof": {
            "leaf_hash": b64url(leaves[RECEIPT_INDEX]),
            "response": {
                "leaf_index": RECEIPT_INDEX,
                "tree_size": size,
                "hashes": [b64url(h) for h in _path(RECEIPT_INDEX, leaves)],
            },
        },
        "consistency_proof": {
            "first_root_hash_hex": _mth(leaves[:old_size]).hex(),
            "response": {
                "first": old_size,
                "second": size,
                "hashes": [b64url(h) for h in _subproof(old_size, leaves, True)],
            },
        },
    }


# --------------------------------------------------------------------------- files


def build() -> dict[str, dict[str, Any]]:
    """Every vector file, by name."""
    oprf = oprf_vectors()
    return {
        "request_signing.json": signing_vectors(oprf),
        "body_hash.json": bsh_vectors(),
        "oprf.json": oprf,
        "receipt.json": receipt_vectors(),
        "receipt-v2.json": receipt_v2_vectors(),
        "checkpoint.json": checkpoint_vectors(),
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    parser.add_argument("--out", type=Path, default=VECTOR_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, document in build().items():
        path = args.out / name
        text = render(document)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    verb = "differ" if args.check else "written"
    print(f"{len(stale)} file(s) {verb}: {', '.join(stale) or '-'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
