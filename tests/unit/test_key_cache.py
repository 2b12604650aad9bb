"""The key cache: registered keys stay; unknown kids go into a bounded negative cache."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.services.authn import KeyCache

PEM = (
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


class Loader:
    """An in-memory key table that counts its look-ups."""

    def __init__(self, kids: set[str]) -> None:
        self.kids = kids
        self.calls: list[str] = []

    async def __call__(self, kid: str) -> dict[str, Any] | None:
        self.calls.append(kid)
        if kid not in self.kids:
            return None
        return {
            "kid": kid,
            "principal_id": "mbr_1",
            "role": "member",
            "name": "Shop",
            "alg": "EdDSA",
            "public_key_pem": PEM,
            "revoked_at": None,
            "status": "active",
        }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_flood_of_unknown_kids_neither_grows_memory_nor_evicts_real_keys() -> None:
    loader, clock = Loader({"real"}), Clock()
    cache = KeyCache(loader, ttl=60, clock=clock, unknown_kept=100)
    assert await cache.get("real") is not None
    for i in range(1000):
        assert await cache.get(f"made-up-{i}") is None
    assert cache.sizes == (1, 100)
    before = len(loader.calls)
    assert await cache.get("real") is not None
    assert len(loader.calls) == before  # still cached: the flood did not clear it


async def test_an_unknown_kid_is_asked_once_until_it_expires() -> None:
    loader, clock = Loader(set()), Clock()
    cache = KeyCache(loader, ttl=5, clock=clock)
    for _ in range(3):
        assert await cache.get("nobody") is None
    assert loader.calls == ["nobody"]
    # Registered meanwhile: found once the negative entry has expired.
    loader.kids.add("nobody")
    clock.now += 6
    assert await cache.get("nobody") is not None
    assert loader.calls == ["nobody", "nobody"]


async def test_clear_forgets_both_known_and_unknown() -> None:
    loader, clock = Loader({"real"}), Clock()
    cache = KeyCache(loader, ttl=60, clock=clock)
    await cache.get("real")
    await cache.get("gone")
    cache.clear()
    assert cache.sizes == (0, 0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=8), max_size=300), st.integers(1, 50))
async def test_the_negative_cache_never_holds_more_than_its_bound(
    kids: list[str], bound: int
) -> None:
    cache = KeyCache(Loader(set()), ttl=60, clock=Clock(), unknown_kept=bound)
    for kid in kids:
        await cache.get(kid)
    assert cache.sizes[1] <= bound
    assert cache.sizes[0] == 0
