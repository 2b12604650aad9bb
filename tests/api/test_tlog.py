"""The tree served as C2SP tiles, checked by code that shares nothing with the server's.

The checks here use only ``hashlib``, ``base64`` and ``cryptography``'s Ed25519:
the checkpoint signature is verified from the note bytes by hand, the root is
recomputed from the level-0 tiles with the recursive definition of RFC 6962,
every level-1 hash must be the root of a full level-0 tile, and every entry
of the bundles must hash to its leaf.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from refund_registry.client.signing import Signer
from refund_registry.config import Settings
from refund_registry.http.app import create_app
from refund_registry.runtime import Runtime
from tests.support.api import Api, assert_problem
from tests.support.factories import access_record
from tests.support.principals import MakePrincipal
from tests.support.sequencing import sequence_all

URL = "http://registry"
PREFIX = "/v1/audit/tlog"


def _mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle Tree Hash over leaf hashes, straight from the definition."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(hashes[:k]) + _mth(hashes[k:])).digest()


def _index(n: int) -> str:
    groups = f"{n:,}".replace(",", " ").split() if n >= 1000 else [str(n)]
    groups = [g.zfill(3) for g in groups]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def _check_note(note: str, public_key: Any, name: str) -> tuple[int, bytes]:
    text, _, sigs = note.rpartition("\n\n")
    body = (text + "\n").encode()
    raw_key = public_key.public_bytes_raw()
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + raw_key).digest()[:4]
    for line in sigs.splitlines():
        signer, blob = line.removeprefix("— ").split(" ")
        data = base64.b64decode(blob)
        if signer == name and data[:4] == key_id:
            public_key.verify(data[4:], body)  # raises if it does not verify
            _, size, root = text.split("\n")[:3]
            return int(size), base64.b64decode(root)
    raise AssertionError("no signature by the log key")


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> Litestar:
    return create_app(settings, runtime_override=runtime)


@pytest.fixture
async def tiles_api(app: Litestar) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as client:
        yield Api(client)


async def _get(api: Api, signer: Signer, path: str, status: int = 200) -> httpx.Response:
    response = await api.call(signer, "GET", PREFIX + path)
    assert response.status_code == status, (path, response.text)
    return response


async def test_the_root_recomputed_from_the_tiles_matches_the_checkpoint(
    tiles_api: Api, runtime: Runtime, make_principal: MakePrincipal
) -> None:
    assert runtime.registry is not None
    member, auditor = await make_principal("member"), await make_principal("auditor")
    size = 256 * 2 + 37
    await runtime.access_log.append_many([access_record() for _ in range(size)])
    await sequence_all(runtime.pool, runtime.registry.log_key)

    note = (await _get(tiles_api, member, "/checkpoint")).text
    public_key = runtime.registry.log_key.public_key()
    signed_size, root = _check_note(note, public_key, "refund-registry.example/log")
    assert signed_size >= size  # the auditors' own reads are logged too

    full, partial_width = divmod(signed_size, 256)
    leaves: list[bytes] = []
    for n in range(full):
        tile = (await _get(tiles_api, member, f"/tile/0/{_index(n)}")).content
        assert len(tile) == 256 * 32
        leaves += [tile[i : i + 32] for i in range(0, len(tile), 32)]
    if partial_width:
        tail = f"/tile/0/{_index(full)}.p/{partial_width}"
        tile = (await _get(tiles_api, member, tail)).content
        leaves += [tile[i : i + 32] for i in range(0, len(tile), 32)]
    assert len(leaves) == signed_size
    assert _mth(leaves) == root

    level1 = (await _get(tiles_api, member, f"/tile/1/000.p/{full}")).content
    assert [level1[i : i + 32] for i in range(0, len(level1), 32)] == [
        _mth(leaves[n * 256 : (n + 1) * 256]) for n in range(full)
    ]

    bundle = (await _get(tiles_api, auditor, "/tile/entries/001")).content
    entries = []
    while bundle:
        length = int.from_bytes(bundle[:2], "big")
        entries.append(bundle[2 : 2 + length])
        bundle = bundle[2 + length :]
    assert [hashlib.sha256(b"\x00" + e).digest() for e in entries] == leaves[256:512]

    # Beyond the checkpoint, malformed, or entries for a member: refused.
    ahead = await tiles_api.call(member, "GET", f"{PREFIX}/tile/0/{_index(full)}")
    assert_problem(ahead, 404, "audit.tile_not_found")
    bad = await tiles_api.call(member, "GET", f"{PREFIX}/tile/0/x000/001")
    assert_problem(bad, 400, "audit.tile_path")
    barred = await tiles_api.call(member, "GET", f"{PREFIX}/tile/entries/000")
    assert_problem(barred, 403, "auth.forbidden_role")
    anonymous = await tiles_api.call(None, "GET", f"{PREFIX}/tile/0/000")
    assert anonymous.status_code == 401
