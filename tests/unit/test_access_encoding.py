"""Encoding many access records at once is encoding each, with salts from one draw."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain.access import AccessRecord, commitment, encode, encode_many
from refund_registry.domain.wire import b64url

records = st.lists(
    st.builds(
        AccessRecord,
        at=st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        actor=st.text(min_size=1, max_size=8),
        role=st.sampled_from(["member", "auditor"]),
        action=st.just("risk.query"),
        request_digest=st.text(max_size=8),
        subject_keys=st.lists(st.binary(min_size=32, max_size=32), max_size=4),
        outcome=st.none() | st.sampled_from(["none", "high"]),
        jti=st.none() | st.text(min_size=1, max_size=8),
    ),
    max_size=6,
)


@given(records)
def test_encode_many_is_encode_of_each_with_fresh_distinct_salts(batch: list[AccessRecord]) -> None:
    encoded = encode_many(batch)
    assert [e.record for e in encoded] == batch
    salts = [salt for e in encoded for salt in e.salts]
    assert all(len(salt) == 16 for salt in salts)
    assert len(set(salts)) == len(salts)  # 128 random bits each: never equal in practice
    for e, record in zip(encoded, batch, strict=True):
        assert len(e.salts) == len(record.subject_keys)
        # The entry commits to exactly the salts handed back with it.
        committed = msgspec.json.decode(e.entry)["subjects"]
        assert committed == [
            b64url(commitment(salt, key))
            for salt, key in zip(e.salts, record.subject_keys, strict=True)
        ]
        assert e == encode(record, e.salts)  # the same bytes as encoding it alone
