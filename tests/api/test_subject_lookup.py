"""The risk query's subject look-up: concurrent callers share a round trip, each gets its own."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from refund_registry.config import Settings
from refund_registry.domain.reports import b64url_decode
from refund_registry.runtime import Runtime
from refund_registry.storage.lookup import SubjectLookup
from tests.support.api import Api
from tests.support.factories import ident, pseudonym, report_body
from tests.support.principals import MakePrincipal


async def _keys(
    api: Api, make_principal: MakePrincipal, runtime: Runtime, held: int
) -> list[bytes]:
    """Subject keys of ``held`` buyers with a report each."""
    member = await make_principal()
    keys = []
    for _ in range(held):
        buyer = pseudonym()
        filed = await api.call(
            member, "POST", "/v1/reports", report_body(identifiers=[ident(buyer)])
        )
        assert filed.status_code == 201, filed.text
        raw = b64url_decode(buyer)
        assert raw is not None
        keys.append(runtime.parts.keyring.subject_key(raw))
    return keys


@pytest.mark.parametrize(
    ("max_keys", "fetches"),
    [
        (20_000, 1),  # one tick, one fetch for everybody
        (5, 2),  # the callers' 2 + 3 keys, then 2 + 3
        (1, 4),  # each caller alone: one asking for more than max_keys is not split
    ],
)
async def test_concurrent_callers_share_fetches_and_get_their_own_rows(
    api: Api, make_principal: MakePrincipal, runtime: Runtime, max_keys: int, fetches: int
) -> None:
    held = await _keys(api, make_principal, runtime, 4)
    unheld = [bytes([i]) * 32 for i in range(3)]
    lookup = SubjectLookup(runtime.pool, max_keys=max_keys)
    asks = [
        [held[0], unheld[0]],
        [held[1], held[0], held[1]],  # a key asked twice by one caller
        [unheld[1], unheld[2]],
        [held[2], held[3], unheld[0]],
    ]
    answers = await asyncio.gather(*(lookup.get_many(ask) for ask in asks))
    for ask, answer in zip(asks, answers, strict=True):
        assert set(answer) == set(ask)
        for key in ask:
            row = answer[key]
            if key in held:
                assert row is not None
                assert bytes(row["subject_key"]) == key
                assert len(row["facts"]) == 1
            else:
                assert row is None
    assert lookup.round_trips == fetches
    assert await lookup.get_many([]) == {}
    assert lookup.round_trips == fetches  # nothing asked, nothing fetched


async def test_a_failed_fetch_reaches_every_caller(settings: Settings) -> None:
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1)
    await pool.close()  # every fetch through it now fails
    lookup = SubjectLookup(pool)
    results = await asyncio.gather(
        lookup.get_many([b"a" * 32]), lookup.get_many([b"b" * 32]), return_exceptions=True
    )
    assert len(results) == 2
    for result in results:
        assert isinstance(result, Exception)
    assert lookup.round_trips == 1
