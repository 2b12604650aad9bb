"""The registry's own secret keys, kept in files.

* ``log`` — Ed25519 key that signs checkpoints and receipts (the log key).
* ``registry`` — 32-byte HMAC key that turns a pseudonym into a subject key.

The key service's OPRF key is *not* here: it belongs to the key-service
process alone. In zero-setup mode missing keys are generated into the data
folder (and the log says so); in production the files must be provided.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

log = logging.getLogger("refund_registry.keys")


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_ed25519(path: Path, *, generate: bool) -> ed25519.Ed25519PrivateKey:
    if not path.exists():
        if not generate:
            raise FileNotFoundError(f"key file {path} does not exist")
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            _write_secret(path, pem)
            log.warning("generated a new Ed25519 key", extra={"path": str(path)})
        except FileExistsError:
            pass  # another process won the race; read theirs
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return loaded


def ensure_secret(path: Path, *, generate: bool, size: int = 32) -> bytes:
    """A raw secret stored as hex; generated when missing and allowed."""
    if not path.exists():
        if not generate:
            raise FileNotFoundError(f"key file {path} does not exist")
        try:
            _write_secret(path, secrets.token_bytes(size).hex().encode() + b"\n")
            log.warning("generated a new secret key", extra={"path": str(path)})
        except FileExistsError:
            pass
    data = bytes.fromhex(path.read_text().strip())
    if len(data) != size:
        raise ValueError(f"{path} must hold {size} bytes as hex")
    return data


def load_keyring_keys(path: Path, *, generate: bool) -> tuple[bytes, ...]:
    """The registry keyring file: one 32-byte key in hex per line, oldest first.

    A missing file is created with one key when generation is allowed.
    """
    if not path.exists():
        ensure_secret(path, generate=generate)
    keys = tuple(
        bytes.fromhex(line.strip()) for line in path.read_text().splitlines() if line.strip()
    )
    if not keys or any(len(k) != 32 for k in keys):
        raise ValueError(f"{path} must hold one or more 32-byte keys in hex, one per line")
    return keys
