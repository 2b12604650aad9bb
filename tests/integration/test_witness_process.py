"""``refund-registry witness`` as a real process: every answer of c2sp.org/tlog-witness,
its folder, and its state surviving SIGKILL in the middle of a write."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest

from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import open_note, parse_checkpoint_body, parse_verifier_key
from refund_registry.domain.checkpoint.cosignature import parse_cosigner_key, verified_cosignatures
from refund_registry.domain.witnessing import request_body
from refund_registry.witness.store import PAUSE_ENV
from tests.support.witnesses import ToyLog, WitnessProcess, init_witness, running_witness


def _post(witness: WitnessProcess, body: bytes) -> httpx.Response:
    return httpx.post(f"{witness.url}/add-checkpoint", content=body, timeout=30)


def _state_file(folder: Path, origin: str) -> Path:
    return folder / "state" / f"{hashlib.sha256(origin.encode()).hexdigest()}.note"


def _held_size(folder: Path, log: ToyLog) -> int | None:
    path = _state_file(folder, log.origin)
    if not path.exists():
        return None
    note = path.read_text(encoding="utf-8")
    return parse_checkpoint_body(open_note(note, parse_verifier_key(log.verifier_key))).size


def test_every_answer_of_add_checkpoint(tmp_path: Path) -> None:
    log = ToyLog()
    log.grow(10)
    with running_witness(tmp_path / "w", "w1.example/witness", log.verifier_key) as witness:
        # 200: a cosignature line that verifies under the printed key, and the state is kept.
        answer = _post(witness, log.body(0))
        assert answer.status_code == 200, answer.text
        assert answer.text.startswith("— w1.example/witness ")
        key = parse_cosigner_key(witness.key)
        assert [c.name for c in verified_cosignatures(log.note() + answer.text, [key])] == [
            "w1.example/witness"
        ]
        assert _held_size(witness.folder, log) == 10

        # 409: the old size is not the held one; the body names the held size.
        log.grow(5)
        conflict = _post(witness, log.body(0))
        assert conflict.status_code == 409
        assert conflict.headers["content-type"].startswith("text/x.tlog.size")
        assert conflict.text == "10\n"

        # 400: old size above the checkpoint's, and a malformed body.
        too_large = _post(witness, request_body(16, [], log.note()))
        assert (too_large.status_code, too_large.json()["code"]) == (400, "witness.old_size")
        malformed = _post(witness, b"old 010\n\n" + log.note().encode())
        assert (malformed.status_code, malformed.json()["code"]) == (400, "witness.malformed")

        # 404: a log it does not follow.
        stranger = ToyLog("stranger.example/log")
        stranger.grow(3)
        unknown = _post(witness, stranger.body(0))
        assert (unknown.status_code, unknown.json()["code"]) == (404, "witness.unknown_log")

        # 403: the right origin signed by another key.
        impostor = ToyLog(log.origin)
        impostor.grow(15)
        forged = _post(witness, impostor.body(0, note=impostor.note()))
        assert (forged.status_code, forged.json()["code"]) == (403, "witness.bad_signature")

        # 422: a fork of the held tree (split view), properly signed by the log.
        fork = ToyLog(log.origin, log.key, list(log.leaves))
        fork.leaves[3] = merkle.leaf_hash(b"rewritten")
        split = _post(witness, fork.body(10))
        assert (split.status_code, split.json()["code"]) == (422, "witness.inconsistent")
        assert _held_size(witness.folder, log) == 10  # a refusal changes nothing

        # 200 again with the right proof; the monitoring read shows it, cosigned.
        assert _post(witness, log.body(10)).status_code == 200
        origin_hash = hashlib.sha256(log.origin.encode()).hexdigest()
        latest = httpx.get(f"{witness.url}/{origin_hash}/checkpoint", timeout=10)
        assert latest.status_code == 200
        assert parse_checkpoint_body(latest.text[: latest.text.rfind("\n\n") + 1]).size == 15
        assert len(verified_cosignatures(latest.text, [key])) == 1
        assert httpx.get(f"{witness.url}/{'0' * 64}/checkpoint", timeout=10).status_code == 404

    # The folder is private, and a restarted witness holds what it cosigned.
    assert stat.S_IMODE(os.stat(witness.folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(witness.folder / "witness.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(_state_file(witness.folder, log.origin)).st_mode) == 0o600
    witness.start()
    try:
        again = _post(witness, log.body(0))
        assert (again.status_code, again.text) == (409, "15\n")
    finally:
        witness.stop()


def test_a_second_witness_process_on_one_folder_is_refused(tmp_path: Path) -> None:
    log = ToyLog()
    with running_witness(tmp_path / "w", "w.example", log.verifier_key) as witness:
        second = WitnessProcess(witness.folder, witness.key, witness.port + 1)
        with pytest.raises(AssertionError, match="another witness process"):
            second.start()


def _submit_in_background(witness: WitnessProcess, body: bytes) -> threading.Thread:
    def send() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the process is killed under it
            _post(witness, body)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_sigkill_in_the_middle_of_a_write_leaves_the_old_state(tmp_path: Path) -> None:
    log = ToyLog()
    log.grow(20)
    witness = init_witness(tmp_path / "w", "w.example", log.verifier_key)
    witness.start()
    try:
        assert _post(witness, log.body(0, 20)).status_code == 200
    finally:
        witness.stop()
    log.grow(200)
    witness.start(**{PAUSE_ENV: "30"})
    try:
        thread = _submit_in_background(witness, log.body(20))
        state = witness.folder / "state"
        deadline = time.monotonic() + 30
        while not list(state.glob(".tmp-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        partial = list(state.glob(".tmp-*"))
        assert partial, "the write never started"
        assert 0 < partial[0].stat().st_size < len(log.note()), "not half-way through"
        witness.kill()
        thread.join(timeout=30)
    finally:
        witness.kill()
    assert _held_size(witness.folder, log) == 20
    witness.start()
    try:
        assert not list((witness.folder / "state").glob(".tmp-*"))
        assert _post(witness, log.body(0)).text == "20\n"
        assert _post(witness, log.body(20)).status_code == 200
    finally:
        witness.stop()
    assert _held_size(witness.folder, log) == 220


def test_repeated_kills_leave_old_or_new_never_torn(tmp_path: Path) -> None:
    log = ToyLog()
    witness = init_witness(tmp_path / "w", "w.example", log.verifier_key)
    rng = random.Random(19)
    held = 0
    for _ in range(6):
        log.grow(rng.randint(1, 50))
        witness.start(**{PAUSE_ENV: "0.2"})
        try:
            _submit_in_background(witness, log.body(held))
            time.sleep(rng.uniform(0.0, 0.6))
        finally:
            witness.kill()
        after = _held_size(witness.folder, log)
        assert after in {held or None, len(log.leaves)}, (after, held, len(log.leaves))
        held = after or 0
