"""The registry's own secret keys, kept in files.

* ``log`` — Ed25519 key that signs checkpoints and receipts (the log key).
* ``registry`` — the keyring: 32-byte HMAC keys, one per line in hex, oldest
  first, that turn a pseudonym into a subject key (``domain/keyring.py``).
* ``keyservice`` — the key service's OPRF seed. Only the key-service process
  reads it; the API process never does.

In zero-setup mode missing keys are generated into the data folder (and the
log says so); in production the files must be provided. Every key file is
written by :func:`write_secret` alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

log = logging.getLogger("refund_registry.keys")


def write_secret(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Put ``data`` at ``path``, mode 0600, so that no crash leaves a partial key behind.

    The bytes go to a temporary file in the same folder, which is fsynced and
    then moved into place in one step; the folder is fsynced too, so a key
    that was reported written survives a power cut. A folder created here is
    private (0700); an existing folder keeps the mode its operator gave it.

    Without ``replace`` an existing file is never overwritten: the move is a
    hard link, which fails with :class:`FileExistsError` if another process
    put its key there first. Two processes generating the same key thus end
    up reading one key, never each their own.
    """
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable (POSIX leaves it in the page cache)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
            write_secret(path, pem)
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
            write_secret(path, secrets.token_bytes(size).hex().encode() + b"\n")
            log.warning("generated a new secret key", extra={"path": str(path)})
        except FileExistsError:
            pass  # another process won the race; read theirs
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


def write_keyring(path: Path, keys: tuple[bytes, ...]) -> None:
    """Write a keyring file in the format :func:`load_keyring_keys` reads, replacing any."""
    write_secret(path, "".join(k.hex() + "\n" for k in keys).encode("ascii"), replace=True)
