"""The registry's access log as the auditor's verifier reads it.

Signed GETs against the audit routes (any answer but 200 ends the run), the
downloaded leaf hashes with cheap prefix roots, and the bisection that names
the first wrong entry. Nothing here trusts what the registry serves: every
proof is checked locally with the pure Merkle code, and a proof that does not
verify only moves the blame earlier. :mod:`refund_registry.client.verify`
runs the checks in order and gives the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from refund_registry.client.signing import Signer
from refund_registry.domain import merkle
from refund_registry.domain.checkpoint import Checkpoint
from refund_registry.domain.wire import b64url_decode

_SNAPSHOT_EVERY = 1024


class Failed(Exception):
    """A check that makes the rest of the run meaningless (no trusted checkpoint, no data)."""


@dataclass
class Progress:
    """What a run has checked so far, what failed, and the first wrong index found."""

    steps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    first_bad: int | None = None

    def blame(self, index: int, problem: str) -> None:
        self.problems.append(problem)
        if self.first_bad is None or index < self.first_bad:
            self.first_bad = index


def _b64url_decode(text: object) -> bytes | None:
    # One spelling per value, whatever type the registry served.
    return b64url_decode(text) if isinstance(text, str) else None


class LogReader:
    """Signed GETs against the registry; any answer but 200 ends the run."""

    def __init__(self, client: httpx.AsyncClient, signer: Signer, base_path: str) -> None:
        self.client = client
        self.signer = signer
        self.base_path = base_path.rstrip("/")

    async def get(
        self, path: str, params: Mapping[str, int | str] | None = None, *, signed: bool = True
    ) -> httpx.Response:
        target = self.base_path + path + (f"?{urlencode(params)}" if params else "")
        headers = self.signer.headers("GET", target) if signed else {}
        response = await self.client.get(target, headers=headers)
        if response.status_code != 200:
            detail = response.text[:300]
            try:
                problem = response.json()
                detail = f"{problem.get('code')}: {problem.get('detail')}"
            except ValueError:
                pass
            raise Failed(f"GET {path} answered {response.status_code} ({detail})")
        return response

    async def json(self, path: str, params: Mapping[str, int | str]) -> dict[str, Any]:
        response = await self.get(path, params)
        try:
            data = response.json()
        except ValueError:
            raise Failed(f"GET {path} did not answer JSON") from None
        if not isinstance(data, dict):
            raise Failed(f"GET {path} did not answer a JSON object")
        return data

    async def consistency_holds(self, first: int, second: int, root1: bytes, root2: bytes) -> bool:
        """Whether the registry proves (``second``, ``root2``) extends (``first``, ``root1``).

        A malformed proof is a failed proof, exactly like one that does not add up.
        """
        data = await self.json("/v1/audit/proof/consistency", {"first": first, "second": second})
        hashes = data.get("hashes")
        if not isinstance(hashes, list):
            return False
        proof = [_b64url_decode(h) for h in hashes]
        valid = [h for h in proof if h is not None and len(h) == merkle.HASH_SIZE]
        if len(valid) != len(proof):
            return False
        return merkle.verify_consistency(first, second, root1, root2, valid)


class Leaves:
    """Downloaded leaf hashes, with a frontier every 1,024 leaves so any prefix root is cheap.

    Bisection asks for the roots of O(log n) prefixes; each costs at most 1,023
    hash appends from the nearest snapshot instead of a rebuild from leaf 0.
    """

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self._snapshots = [merkle.Frontier()]

    @property
    def size(self) -> int:
        return len(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        self._hashes.append(leaf_hash)
        if len(self._hashes) % _SNAPSHOT_EVERY == 0:
            base = self._snapshots[-1]
            chunk = self._hashes[base.size :]
            self._snapshots.append(base.append(chunk, include_leaves=False).frontier)

    def root(self, size: int) -> bytes:
        """The RFC 9162 root of the first ``size`` downloaded leaves (``size ≤ self.size``)."""
        base = self._snapshots[size // _SNAPSHOT_EVERY]
        tail = self._hashes[base.size : size]
        return base.append(tail, include_leaves=False).frontier.root()


async def download(
    registry: LogReader, leaves: Leaves, size: int, page_size: int, progress: Progress
) -> str | None:
    """Fetch entries ``[0, size)`` in index order into ``leaves``.

    Stops at the first index that is not the next one expected (or whose leaf
    is unreadable) and returns why; ``None`` when all ``size`` arrived.
    """
    after: int | None = None
    while leaves.size < size:
        params: dict[str, int | str] = {"limit": page_size}
        if after is not None:
            params["after"] = after
        page = await registry.json("/v1/audit/entries", params)
        items = page.get("entries")
        if not isinstance(items, list):
            raise Failed("an entries page came without a list of entries")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("index"), int):
                raise Failed(f"a malformed item follows entry {leaves.size - 1}")
            index: int = item["index"]
            if index >= size:
                return None
            if index != leaves.size:
                expected = leaves.size
                if index > expected:
                    return f"the registry skips from entry {expected - 1} to entry {index}"
                return f"entry {index} is served again (or out of order) after entry {expected - 1}"
            leaf = _b64url_decode(item.get("leaf"))
            if leaf is None:
                return f"entry {index}'s leaf is not valid unpadded base64url"
            digest = merkle.leaf_hash(leaf)
            if _b64url_decode(item.get("leaf_hash")) != digest:
                progress.blame(
                    index, f"entry {index}: the listed leaf_hash is not the hash of its leaf bytes"
                )
            leaves.append(digest)
        if len(items) < page_size:
            break
        after = items[-1]["index"]
    if leaves.size < size:
        return f"the registry serves only {leaves.size} of the {size} entries"
    return None


async def _first_bad(registry: LogReader, leaves: Leaves, checkpoint: Checkpoint) -> int:
    """The longest downloaded prefix consistent with the checkpoint; its length is the bad index.

    A prefix of ``m`` leaves is *good* when the registry proves the tree of
    ``m`` leaves with the root computed here consistent with the checkpoint.
    Good prefixes are exactly those before the first wrong leaf (a wrong leaf
    changes every later root), so binary search finds the boundary.
    """

    async def good(m: int) -> bool:
        if m == 0:
            return True
        local = leaves.root(m)
        if m == checkpoint.size:
            return local == checkpoint.root
        return await registry.consistency_holds(m, checkpoint.size, local, checkpoint.root)

    hi = min(leaves.size, checkpoint.size)
    if await good(hi):
        return hi
    lo = 0  # good(lo) holds; good(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if await good(mid):
            lo = mid
        else:
            hi = mid
    return lo


async def locate(
    registry: LogReader,
    leaves: Leaves,
    checkpoint: Checkpoint,
    stopped: str | None,
    progress: Progress,
) -> None:
    """Name the first wrong index, when the registry's proofs allow saying which it is.

    If the registry cannot even produce the proofs, a gap in the download still
    names its first missing index; an altered entry then cannot be located.
    """
    try:
        index = await _first_bad(registry, leaves, checkpoint)
    except Failed as exc:
        progress.problems.append(f"the registry cannot prove where its log goes wrong: {exc}")
        if stopped is not None:
            progress.blame(leaves.size, f"entry {leaves.size} is missing: {stopped}")
        return
    if index == leaves.size and stopped is not None:
        progress.blame(index, f"entry {index} is missing: {stopped}")
        return
    progress.blame(
        index,
        f"entry {index} was altered, removed or reordered: entries 0 to {index - 1} match "
        f"the checkpoint of size {checkpoint.size}, the tree that includes entry {index} does not",
    )
