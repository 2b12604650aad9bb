"""Key files: one writer, private, all-or-nothing, and first writer wins when generating."""

from __future__ import annotations

import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from refund_registry.storage import keyfiles


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_secret_is_written_private_in_a_private_new_folder(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "registry.key"
    keyfiles.write_secret(path, b"secret\n")
    assert path.read_bytes() == b"secret\n"
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    # No temporary file is left beside it.
    assert [p.name for p in path.parent.iterdir()] == ["registry.key"]


def test_an_existing_file_is_never_overwritten_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    keyfiles.write_secret(path, b"first")
    with pytest.raises(FileExistsError):
        keyfiles.write_secret(path, b"second")
    assert path.read_bytes() == b"first"
    keyfiles.write_secret(path, b"second", replace=True)
    assert path.read_bytes() == b"second"
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["log.key"]


def test_generators_racing_for_one_key_all_read_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "registry.key"
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: keyfiles.ensure_secret(path, generate=True), range(32)))
    assert len(set(keys)) == 1
    assert keys[0] == bytes.fromhex(path.read_text())


def test_the_keyring_file_round_trips_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "registry.key"
    first = keyfiles.load_keyring_keys(path, generate=True)
    assert len(first) == 1
    rotated = (*first, secrets.token_bytes(32))
    keyfiles.write_keyring(path, rotated)
    assert keyfiles.load_keyring_keys(path, generate=False) == rotated
    assert _mode(path) == 0o600


def test_missing_keys_are_not_generated_in_production(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        keyfiles.ensure_secret(tmp_path / "keyservice.key", generate=False)
    with pytest.raises(FileNotFoundError):
        keyfiles.ensure_ed25519(tmp_path / "log.key", generate=False)
    assert os.listdir(tmp_path) == []


def test_an_ed25519_key_is_generated_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "log.key"
    first = keyfiles.ensure_ed25519(path, generate=True)
    again = keyfiles.ensure_ed25519(path, generate=True)
    assert first.private_bytes_raw() == again.private_bytes_raw()
    assert _mode(path) == 0o600
