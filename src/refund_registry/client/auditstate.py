"""The state file of ``audit verify``: the last checkpoint a run verified, kept between runs.

Written atomically, so that a crash mid-write never costs the auditor the
remembered checkpoint (:mod:`refund_registry.client.verify`).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import Checkpoint, VerifierKey

_STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class State:
    origin: str
    verifier_key: str
    size: int
    root: bytes
    note: str


def load_state(path: Path) -> State | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
        raise ValueError("not a state file written by this command")
    size, root = data["size"], base64.b64decode(data["root"], validate=True)
    if not isinstance(size, int) or size < 0 or len(root) != merkle.HASH_SIZE:
        raise ValueError("the remembered tree size or root is malformed")
    return State(str(data["origin"]), str(data["verifier_key"]), size, root, str(data["note"]))


def save_state(path: Path, checkpoint: Checkpoint, key: VerifierKey, note: str) -> None:
    """Write atomically: a crash mid-write must not cost the auditor the remembered checkpoint."""
    data = {
        "version": _STATE_VERSION,
        "origin": checkpoint.origin,
        "verifier_key": str(key),
        "size": checkpoint.size,
        "root": base64.b64encode(checkpoint.root).decode("ascii"),
        "note": note,
        "verified_at": datetime.now(UTC).isoformat(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
