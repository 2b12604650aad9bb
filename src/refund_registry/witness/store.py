"""The witness's folder: its key, the logs it follows, and what it last cosigned for each.

Layout (the folder is 0700, every file in it 0600)::

    witness.pem           the Ed25519 cosigning key (PKCS#8 PEM)
    witness.json          {"name": ..., "logs": [{"origin": ..., "key": <log verifier key>}]}
    state/<sha256(origin) hex>.note
                          the last cosigned checkpoint: the log's signed note with
                          this witness's cosignature line under it

Every file is replaced atomically: written to a temporary file in the same
folder, fsynced, renamed over the old one, and the folder fsynced. A crash at
any point leaves the old file or the new one, never a mix; a leftover
temporary file is ignored and removed at the next start. Only one process may
use a folder at a time (:meth:`WitnessFolder.lock`), and the HTTP app
serialises every check-and-update under one lock, so no two submissions race.

``REGISTRY_WITNESS_TEST_WRITE_PAUSE`` (seconds) makes every state write pause
half-way through writing its temporary file. It exists only so that the tests
can kill the process in the middle of a write; never set it in operation.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from refund_registry.domain.checkpoint import (
    CheckpointError,
    VerifierKey,
    open_note,
    parse_checkpoint_body,
    parse_verifier_key,
)
from refund_registry.domain.checkpoint.cosignature import cosigner_key_string
from refund_registry.domain.checkpoint.format import check_name
from refund_registry.domain.witnessing import Held

PAUSE_ENV = "REGISTRY_WITNESS_TEST_WRITE_PAUSE"
_KEY = "witness.pem"
_CONFIG = "witness.json"
_STATE = "state"
_TMP_PREFIX = ".tmp-"


class WitnessSetupError(Exception):
    """The folder is missing, malformed, or in use by another witness process."""


def write_atomic(path: Path, data: bytes, *, pause: float = 0.0) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new bytes, whole.

    Temporary file (0600) in the same folder → write → fsync → rename → fsync
    the folder. ``pause`` (tests only) sleeps half-way through the write.
    """
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            half = len(data) // 2
            fh.write(data[:half])
            if pause > 0:
                fh.flush()
                time.sleep(pause)
            fh.write(data[half:])
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class FollowedLog:
    origin: str
    key: VerifierKey


class WitnessFolder:
    """A witness's folder on disk; see the module docstring for its layout."""

    def __init__(self, path: Path | str, *, pause: float | None = None) -> None:
        self.path = Path(path)
        if pause is None:
            pause = float(os.environ.get(PAUSE_ENV) or 0)
        self.pause = pause

    # ------------------------------------------------------------------ set-up

    def init(self, name: str) -> str:
        """Create the folder, a new key and an empty configuration; return the verifier key.

        Refuses to overwrite an existing key: a witness that changed key would
        be a new witness to every log that trusts it.
        """
        check_name(name)
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        (self.path / _STATE).mkdir(mode=0o700, exist_ok=True)
        if (self.path / _KEY).exists():
            raise WitnessSetupError(f"{self.path / _KEY} exists; this folder has a witness")
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomic(self.path / _KEY, pem)
        self._write_config(name, [])
        return cosigner_key_string(name, key.public_key())

    def add_log(self, verifier_key: str, origin: str | None = None) -> FollowedLog:
        """Follow a log: its verifier key, and its origin (by default the key's name)."""
        key = parse_verifier_key(verifier_key)
        followed = FollowedLog(origin or key.name, key)
        name, logs = self._read_config()
        logs = [log for log in logs if log.origin != followed.origin] + [followed]
        self._write_config(name, logs)
        return followed

    def _write_config(self, name: str, logs: list[FollowedLog]) -> None:
        data = {"name": name, "logs": [{"origin": f.origin, "key": str(f.key)} for f in logs]}
        write_atomic(self.path / _CONFIG, (json.dumps(data, indent=2) + "\n").encode())

    def _read_config(self) -> tuple[str, list[FollowedLog]]:
        try:
            data = json.loads((self.path / _CONFIG).read_text(encoding="utf-8"))
            logs = [
                FollowedLog(str(item["origin"]), parse_verifier_key(str(item["key"])))
                for item in data["logs"]
            ]
            return check_name(str(data["name"])), logs
        except (OSError, ValueError, KeyError, TypeError, CheckpointError) as exc:
            raise WitnessSetupError(
                f"{self.path / _CONFIG} is missing or malformed: {exc}"
            ) from exc

    # ------------------------------------------------------------------ reading

    @property
    def name(self) -> str:
        return self._read_config()[0]

    def logs(self) -> dict[str, VerifierKey]:
        """Origin → log verifier key, for every followed log."""
        return {f.origin: f.key for f in self._read_config()[1]}

    def private_key(self) -> ed25519.Ed25519PrivateKey:
        try:
            loaded = serialization.load_pem_private_key(
                (self.path / _KEY).read_bytes(), password=None
            )
        except (OSError, ValueError) as exc:
            raise WitnessSetupError(f"cannot read the witness key: {exc}") from exc
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise WitnessSetupError(f"{self.path / _KEY} is not an Ed25519 key")
        return loaded

    def state_path(self, origin: str) -> Path:
        digest = hashlib.sha256(origin.encode("utf-8")).hexdigest()
        return self.path / _STATE / f"{digest}.note"

    def cosigned_note(self, origin: str) -> str | None:
        """The last cosigned note for ``origin`` (log signature and cosignature), if any."""
        try:
            return self.state_path(origin).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def held(self, origin: str, key: VerifierKey) -> Held | None:
        """The tree head last cosigned for ``origin``, checked against the log's key."""
        note = self.cosigned_note(origin)
        if note is None:
            return None
        try:
            checkpoint = parse_checkpoint_body(open_note(note, key))
        except CheckpointError as exc:
            raise WitnessSetupError(f"the state of {origin!r} does not verify: {exc}") from exc
        return Held(checkpoint.size, checkpoint.root)

    # ------------------------------------------------------------------ writing

    def store(self, origin: str, cosigned_note: str) -> None:
        """Persist the new cosigned checkpoint for ``origin``, atomically and durably."""
        write_atomic(self.state_path(origin), cosigned_note.encode("utf-8"), pause=self.pause)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process; a second witness on it is refused.

        Also removes temporary files a crash left behind: only the lock holder
        writes here, so none of them is still being written.
        """
        if not (self.path / _CONFIG).exists():
            raise WitnessSetupError(f"{self.path} is not a witness folder; run `witness init`")
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WitnessSetupError(f"another witness process uses {self.path}") from None
            for folder in (self.path, self.path / _STATE):
                for leftover in folder.glob(_TMP_PREFIX + "*"):
                    leftover.unlink(missing_ok=True)
            yield
        finally:
            os.close(fd)
