"""A naive RFC 9497 VOPRF (ristretto255-SHA512) in plain Python integers, for tests only.

Written from the pseudocode of RFC 9496 (ristretto255), RFC 9380
(``expand_message_xmd``, hash-to-group) and RFC 9497 (VOPRF), so that it is
obviously correct rather than fast: it is slow and not constant-time, and it
never runs outside tests. Unlike the ``voprf`` package it takes the client's
blind and the server's proof nonce as arguments, which is what makes fixed
known-answer vectors possible.

``tests/unit/test_oprf.py`` checks it against the RFC 9497 Appendix A.1.2
vectors; ``tests/support/vectors.py`` uses it to produce ``docs/vectors/oprf.json``.
"""

from __future__ import annotations

import hashlib

# --- naive reference: ristretto255 (RFC 9496) over edwards25519 ------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # group order
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
SQRT_AD_MINUS_ONE = 25063068953384623474111414158702152701244531502492656460079210482610430750235
INVSQRT_A_MINUS_D = 54469307008909316920995813868745141605393597292927456921205312896311721017578
ONE_MINUS_D_SQ = (1 - D * D) % P
D_MINUS_ONE_SQ = (D - 1) * (D - 1) % P

Point = tuple[int, int, int, int]  # extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z
IDENTITY: Point = (0, 1, 1, 0)


def _neg(x: int) -> bool:
    return (x % P) % 2 == 1


def _abs(x: int) -> int:
    return (-x) % P if _neg(x) else x % P


def _sqrt_ratio_m1(u: int, v: int) -> tuple[bool, int]:
    """(was_square, the non-negative sqrt of u/v, or of SQRT_M1*u/v otherwise)."""
    u, v = u % P, v % P
    r = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    check = v * r * r % P
    correct = check == u
    flipped = check == (-u) % P
    flipped_i = check == (-u * SQRT_M1) % P
    if flipped or flipped_i:
        r = r * SQRT_M1 % P
    return correct or flipped, _abs(r)


def _add(p: Point, q: Point) -> Point:
    # Unified addition on -x^2 + y^2 = 1 + d x^2 y^2 (complete for this curve).
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(k: int, p: Point) -> Point:
    out = IDENTITY
    for bit in bin(k % L)[2:]:
        out = _add(out, out)
        if bit == "1":
            out = _add(out, p)
    return out


def _decode(data: bytes) -> Point | None:
    if len(data) != 32:
        return None
    s = int.from_bytes(data, "little")
    if s >= P or _neg(s):
        return None
    ss = s * s % P
    u1, u2 = (1 - ss) % P, (1 + ss) % P
    u2_sq = u2 * u2 % P
    v = (-(D * u1 * u1) - u2_sq) % P
    was_square, invsqrt = _sqrt_ratio_m1(1, v * u2_sq)
    den_x = invsqrt * u2 % P
    den_y = invsqrt * den_x * v % P
    x = _abs(2 * s * den_x)
    y = u1 * den_y % P
    t = x * y % P
    if not was_square or _neg(t) or y == 0:
        return None
    return (x, y, 1, t)


def _encode(p: Point) -> bytes:
    x0, y0, z0, t0 = p
    u1 = (z0 + y0) * (z0 - y0) % P
    u2 = x0 * y0 % P
    _, invsqrt = _sqrt_ratio_m1(1, u1 * u2 * u2)
    den1, den2 = invsqrt * u1 % P, invsqrt * u2 % P
    z_inv = den1 * den2 * t0 % P
    if _neg(t0 * z_inv):
        x, y, den_inv = y0 * SQRT_M1 % P, x0 * SQRT_M1 % P, den1 * INVSQRT_A_MINUS_D % P
    else:
        x, y, den_inv = x0, y0, den2
    if _neg(x * z_inv):
        y = -y % P
    return _abs(den_inv * (z0 - y)).to_bytes(32, "little")


def _elligator(t: int) -> Point:
    r = SQRT_M1 * t * t % P
    u = (r + 1) * ONE_MINUS_D_SQ % P
    v = (-1 - r * D) * (r + D) % P
    was_square, s = _sqrt_ratio_m1(u, v)
    c = P - 1
    if not was_square:
        s, c = -_abs(s * t) % P, r
    n = (c * (r - 1) * D_MINUS_ONE_SQ - v) % P
    w0, w1 = 2 * s * v % P, n * SQRT_AD_MINUS_ONE % P
    w2, w3 = (1 - s * s) % P, (1 + s * s) % P
    return (w0 * w3 % P, w2 * w1 % P, w1 * w3 % P, w0 * w2 % P)


def _from_uniform(data: bytes) -> Point:
    def field(half: bytes) -> int:
        return (int.from_bytes(half, "little") & ((1 << 255) - 1)) % P

    return _add(_elligator(field(data[:32])), _elligator(field(data[32:])))


def _point(hex_encoding: str) -> Point:
    point = _decode(bytes.fromhex(hex_encoding))
    assert point is not None
    return point


GENERATOR = _point("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")


# --- naive reference: RFC 9380 expand_message_xmd and RFC 9497 VOPRF -----------

CONTEXT = b"OPRFV1-\x01-ristretto255-SHA512"  # mode 0x01 = VOPRF


def _expand_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha512(bytes(128) + msg + length.to_bytes(2, "big") + b"\0" + dst_prime).digest()
    block = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    out = block
    for i in range(2, -(-length // 64) + 1):
        mixed = bytes(a ^ b for a, b in zip(b0, block, strict=True))
        block = hashlib.sha512(mixed + bytes([i]) + dst_prime).digest()
        out += block
    return out[:length]


def _hash_to_group(msg: bytes) -> Point:
    return _from_uniform(_expand_xmd(msg, b"HashToGroup-" + CONTEXT, 64))


def _hash_to_scalar(msg: bytes, dst: bytes = b"HashToScalar-" + CONTEXT) -> int:
    return int.from_bytes(_expand_xmd(msg, dst, 64), "little") % L


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def _scalar(data: bytes) -> int:
    return int.from_bytes(data, "little")


def ref_derive_key_pair(seed: bytes, info: bytes) -> tuple[int, bytes]:
    for counter in range(256):
        sk = _hash_to_scalar(seed + _lp(info) + bytes([counter]), b"DeriveKeyPair" + CONTEXT)
        if sk:
            return sk, _encode(_mul(sk, GENERATOR))
    raise AssertionError("unreachable")


def ref_blind(data: bytes, blind: int) -> bytes:
    return _encode(_mul(blind, _hash_to_group(data)))


def ref_evaluate(sk: int, blinded: bytes) -> bytes:
    point = _decode(blinded)
    assert point is not None
    return _encode(_mul(sk, point))


def ref_finalize(data: bytes, blind: int, evaluated: bytes) -> bytes:
    point = _decode(evaluated)
    assert point is not None
    unblinded = _encode(_mul(pow(blind, -1, L), point))
    return hashlib.sha512(_lp(data) + _lp(unblinded) + b"Finalize").digest()


def _composites(pk: bytes, blinded: list[bytes], evaluated: list[bytes]) -> tuple[Point, Point]:
    seed = hashlib.sha512(_lp(pk) + _lp(b"Seed-" + CONTEXT)).digest()
    m, z = IDENTITY, IDENTITY
    for i, (c, d) in enumerate(zip(blinded, evaluated, strict=True)):
        di = _hash_to_scalar(_lp(seed) + i.to_bytes(2, "big") + _lp(c) + _lp(d) + b"Composite")
        c_point, d_point = _decode(c), _decode(d)
        assert c_point is not None
        assert d_point is not None
        m, z = _add(m, _mul(di, c_point)), _add(z, _mul(di, d_point))
    return m, z


def _challenge(pk: bytes, m: Point, z: Point, t2: Point, t3: Point) -> int:
    parts = [pk, _encode(m), _encode(z), _encode(t2), _encode(t3)]
    return _hash_to_scalar(b"".join(_lp(p) for p in parts) + b"Challenge")


def ref_prove(sk: int, pk: bytes, blinded: list[bytes], evaluated: list[bytes], r: int) -> bytes:
    m, z = _composites(pk, blinded, evaluated)
    c = _challenge(pk, m, z, _mul(r, GENERATOR), _mul(r, m))
    s = (r - c * sk) % L
    return c.to_bytes(32, "little") + s.to_bytes(32, "little")


def ref_verify(pk: bytes, blinded: list[bytes], evaluated: list[bytes], proof: bytes) -> bool:
    c, s = _scalar(proof[:32]), _scalar(proof[32:])
    pk_point = _decode(pk)
    if c >= L or s >= L or pk_point is None:
        return False
    m, z = _composites(pk, blinded, evaluated)
    t2 = _add(_mul(s, GENERATOR), _mul(c, pk_point))
    t3 = _add(_mul(s, m), _mul(c, z))
    return _challenge(pk, m, z, t2, t3) == c
