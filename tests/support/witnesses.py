"""Witnesses for tests: a toy log that signs checkpoints, and witness processes.

:class:`ToyLog` builds trees and signed checkpoints with the pure Merkle and
checkpoint code, so the witness can be driven without a registry.
:func:`start_witness` runs ``refund-registry witness serve`` as a real process
on 127.0.0.1, with its own folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import sign_checkpoint, verifier_key_string
from refund_registry.domain.witnessing import request_body
from tests.support.waiting import free_port

CLI = [sys.executable, "-m", "refund_registry"]


@dataclass
class ToyLog:
    """A log in memory: leaves, a key, and checkpoints and proofs over any prefix."""

    origin: str = "toy.example/log"
    key: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    leaves: list[bytes] = field(default_factory=list)

    @property
    def verifier_key(self) -> str:
        return verifier_key_string(self.origin, self.key.public_key())

    def grow(self, count: int, tag: bytes = b"e") -> None:
        start = len(self.leaves)
        self.leaves += [
            merkle.leaf_hash(tag + str(i).encode()) for i in range(start, start + count)
        ]

    def root(self, size: int) -> bytes:
        return merkle.Frontier().append(self.leaves[:size], include_leaves=False).frontier.root()

    def nodes(self, size: int) -> dict[tuple[int, int], bytes]:
        appended = merkle.Frontier().append(self.leaves[:size], include_leaves=True)
        return {(n.level, n.index): n.hash for n in appended.nodes}

    def note(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        return sign_checkpoint(self.origin, size, self.root(size), self.origin, self.key)

    def proof(self, old: int, new: int) -> list[bytes]:
        found = self.nodes(new)
        return merkle.consistency_proof(old, new, lambda lvl, idx: found[(lvl, idx)])

    def body(self, old: int, new: int | None = None, note: str | None = None) -> bytes:
        new = len(self.leaves) if new is None else new
        proof = self.proof(old, new) if old else []
        return request_body(old, proof, note if note is not None else self.note(new))


def wait_for_port(port: int, *, process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Whether 127.0.0.1:``port`` accepts connections within ``seconds`` (False if it exits)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.05)
    return False


@dataclass
class WitnessProcess:
    folder: Path
    key: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> None:
        env = {**os.environ, **self.env, **extra_env}
        self.process = subprocess.Popen(
            [*CLI, "witness", "--dir", str(self.folder), "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait_for_port(self.port, process=self.process, seconds=30):
            _, err = self.process.communicate(timeout=5)
            raise AssertionError(f"the witness did not start: {err.decode(errors='replace')}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def init_witness(folder: Path, name: str, *log_keys: str) -> WitnessProcess:
    """``witness init`` and ``witness add-log`` for each key, as a member would run them."""
    out = subprocess.run(
        [*CLI, "witness", "--dir", str(folder), "init", "--name", name],
        check=True,
        capture_output=True,
        text=True,
    )
    for key in log_keys:
        subprocess.run(
            [*CLI, "witness", "--dir", str(folder), "add-log", key],
            check=True,
            capture_output=True,
        )
    return WitnessProcess(folder, out.stdout.strip(), free_port())


@contextlib.contextmanager
def running_witness(folder: Path, name: str, *log_keys: str) -> Iterator[WitnessProcess]:
    witness = init_witness(folder, name, *log_keys)
    witness.start()
    try:
        yield witness
    finally:
        witness.stop()
