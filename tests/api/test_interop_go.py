"""The registry's cosigned checkpoints and tiles, verified by Go's sumdb/note and sumdb/tlog.

``tests/support/interop/verify.go`` uses only ``golang.org/x/mod`` (Debian's
``golang-golang-x-mod-dev``, in GOPATH mode: nothing is downloaded) and the Go
standard library; the test is skipped where Go or that package is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from refund_registry.config import Settings
from refund_registry.domain.checkpoint import verifier_key_string
from refund_registry.domain.tiles import Tile
from refund_registry.domain.witnessing import parse_witness
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from refund_registry.services.sequencer import DEFAULT_ORIGIN
from refund_registry.services.witnessing import Collector
from tests.support.api import Api
from tests.support.factories import access_record
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all
from tests.support.witnesses import running_witness

GOPATH = Path("/usr/share/gocode")
VERIFIER = Path(__file__).resolve().parents[1] / "support" / "interop" / "verify.go"


@pytest.fixture(autouse=True)
def _go_installed() -> None:
    """Go's own packages are the outside check: missing, the tests fail (.ci/run installs them)."""
    if shutil.which("go") is None or not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.fail("needs Go and Go's x/mod: apt-get install golang-go golang-golang-x-mod-dev")


def _go(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(work / "gocache"),
        "GOFLAGS": "",
    }
    return subprocess.run(
        ["go", "run", str(VERIFIER), *args], env=env, capture_output=True, text=True, timeout=300
    )


async def test_go_verifies_the_cosigned_checkpoint_and_the_tiles(
    settings: Settings, runtime: Runtime, make_principal: MakePrincipal, tmp_path: Path
) -> None:
    assert runtime.registry is not None
    log_vkey = verifier_key_string(DEFAULT_ORIGIN, runtime.registry.log_key.public_key())
    with (
        running_witness(tmp_path / "w1", "w1.member.example", log_vkey) as w1,
        running_witness(tmp_path / "w2", "w2.member.example", log_vkey) as w2,
    ):
        configured = tuple(parse_witness(f"{w.url} {w.key}") for w in (w1, w2))
        rt = await Runtime.start(settings.with_overrides(witnesses=configured, witness_quorum=2))
        try:
            assert rt.registry is not None
            await rt.access_log.append_many([access_record() for _ in range(256 * 2 + 45)])
            await sequence_all(rt.pool, rt.registry.log_key)
            assert set((await Collector(rt.pool, configured).collect_once()).values()) == {
                "cosigned"
            }
            member = await make_principal("member")
            app = create_app(rt.settings, runtime_override=rt)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://registry"
            ) as client:
                api = Api(client)
                note = (await api.call(member, "GET", "/v1/audit/checkpoint?witnessed=2")).text
                size = int(note.split("\n")[1])
                out = tmp_path / "log"
                (out / "checkpoint").parent.mkdir(parents=True)
                (out / "checkpoint").write_text(note, encoding="utf-8")
                for level in (0, 1):
                    span = 256**level
                    full, width = divmod(size // span, 256)
                    tiles = [Tile(level, n, 256) for n in range(full)]
                    tiles += [Tile(level, full, width)] if width else []
                    for tile in tiles:
                        answer = await api.call(member, "GET", f"/v1/audit/tlog/tile/{tile.path()}")
                        assert answer.status_code == 200, answer.text
                        target = out / "tile" / tile.path()
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(answer.content)
        finally:
            await rt.close()

    keys = [log_vkey, w1.key, w2.key]
    verified = _go(tmp_path, str(out), "2", *keys)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"ok {size} ")

    # Only one of the two witnesses trusted: no quorum of 2.
    short = _go(tmp_path, str(out), "2", log_vkey, w1.key)
    assert short.returncode == 1
    assert "1 cosignatures, quorum 2" in short.stderr

    # One flipped bit in a tile the root is computed from: it no longer matches.
    first = out / "tile" / "1" / "000.p" / "2"
    data = bytearray(first.read_bytes())
    data[5] ^= 1
    first.write_bytes(bytes(data))
    tampered = _go(tmp_path, str(out), "2", *keys)
    assert tampered.returncode == 1
    assert "the root from the tiles" in tampered.stderr
