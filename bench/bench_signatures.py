"""Signature costs on this machine, in one run: Ed25519 through OpenSSL and libsodium, ES256.

Every signed request costs one verification (``domain/tokens.py``), and every
receipt or checkpoint one Ed25519 signature. Prints CPU µs per operation, best
of ``--rounds``, for a 300-byte message (the size of a request token's
signing input). Asserts nothing.

    .venv/bin/python bench/bench_signatures.py [--count 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair


def per_call(call: Callable[[], object], count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(count):
            call()
        best = min(best, (time.process_time() - started) / count)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    message = os.urandom(300)
    seed = os.urandom(32)
    openssl_key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    public = openssl_key.public_key()
    raw_public = public.public_bytes_raw()
    signature = openssl_key.sign(message)
    _, sodium_secret = crypto_sign_seed_keypair(seed)
    p256 = ec.generate_private_key(ec.SECP256R1())
    der = p256.sign(message, ec.ECDSA(hashes.SHA256()))
    rows = [
        ("Ed25519 verify, OpenSSL (cryptography)", lambda: public.verify(signature, message)),
        ("Ed25519 verify, libsodium (PyNaCl)",
         lambda: crypto_sign_open(signature + message, raw_public)),
        ("Ed25519 sign, OpenSSL (cryptography)", lambda: openssl_key.sign(message)),
        ("Ed25519 sign, libsodium (PyNaCl)", lambda: crypto_sign(message, sodium_secret)),
        ("ES256 verify, OpenSSL (cryptography)",
         lambda: p256.public_key().verify(der, message, ec.ECDSA(hashes.SHA256()))),
    ]  # fmt: skip
    for name, call in rows:
        print(f"{name:42} {per_call(call, args.count, args.rounds):7.1f} µs")


if __name__ == "__main__":
    main()
