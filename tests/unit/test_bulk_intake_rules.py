"""The bulk upload's one-pass rules agree with the per-report rules they stand in for.

A bulk upload first checks every report with ``intake.passes`` and decodes
all its pseudonyms and digests at once (``wire.decode_all``); only when
something fails does it go through ``rules.validate``. Each property below
pins the fast rule to the plain one, value by value.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_registry.domain import access, intake, wire
from refund_registry.domain import reports as rules
from refund_registry.domain.keyring import Keyring
from refund_registry.domain.merkle import leaf_hash

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Texts that are canonical encodings, near misses of them, and junk.
def spellings(size: int) -> st.SearchStrategy[str]:
    canonical = st.binary(min_size=size, max_size=size).map(b64)
    near = st.tuples(canonical, st.integers(0, 200), st.sampled_from("AB_-+/=.é\n")).map(
        lambda t: t[0][: t[1] % len(t[0])] + t[2] + t[0][t[1] % len(t[0]) + 1 :]
    )
    longer = st.binary(min_size=size - 2, max_size=size + 2).map(b64)
    return st.one_of(canonical, canonical, near, longer, st.text(max_size=size + 4))


@given(st.sampled_from([32, 64]).flatmap(lambda n: st.tuples(st.just(n), st.lists(spellings(n)))))
def test_decode_all_is_decoding_one_by_one(case: tuple[int, list[str]]) -> None:
    size, texts = case
    one_by_one = [rules.b64url_decode(t) for t in texts]
    if all(raw is not None and len(raw) == size for raw in one_by_one):
        assert wire.decode_all(texts, size) == one_by_one
    else:
        assert wire.decode_all(texts, size) is None


pseudonyms = st.binary(min_size=64, max_size=64).map(b64)
moments = st.datetimes(
    min_value=datetime(1998, 1, 1),
    max_value=datetime(2027, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=11))]),
)
days = st.dates(min_value=date(1998, 1, 1), max_value=date(2027, 1, 1))
reports = st.builds(
    rules.ReportInput,
    case_reference=st.one_of(st.text(max_size=130), st.just("c-1"), st.just("  ")),
    identifiers=st.lists(
        st.builds(
            rules.Identifier,
            kind=st.sampled_from(["phone", "email", "device", "fax"]),
            pseudonym=st.one_of(pseudonyms, pseudonyms, spellings(64)),
        ),
        max_size=11,
    ).map(tuple),
    category=st.sampled_from(["other", "chargeback_fraud", "theft"]),
    amount_minor=st.sampled_from([-1, 0, 1, 25_900, rules.MAX_AMOUNT_MINOR, 10**12 + 1]),
    currency=st.sampled_from(["CNY", "USD", "XXX", "cny"]),
    order_date=days,
    refund_date=days,
    confirmed_at=moments,
    buyer_notified_at=moments,
    evidence_kinds=st.lists(
        st.sampled_from(["photo_forensics", "ai_detector", "carrier_record", "hunch"]), max_size=3
    ).map(tuple),
    evidence_digest=st.one_of(st.binary(min_size=32, max_size=32).map(b64), spellings(32)),
    standard_of_proof=st.dictionaries(
        st.sampled_from(rules.PROOF_PARTS), st.sampled_from([True, False, 1]), max_size=4
    ),
)


valid_reports = st.builds(
    rules.ReportInput,
    case_reference=st.text(min_size=1, max_size=128).filter(str.strip),
    identifiers=st.lists(
        st.builds(rules.Identifier, kind=st.sampled_from(["phone", "email"]), pseudonym=pseudonyms),
        min_size=1,
        max_size=10,
        unique_by=lambda i: i.pseudonym,
    ).map(tuple),
    category=st.just("other"),
    amount_minor=st.integers(1, rules.MAX_AMOUNT_MINOR),
    currency=st.just("CNY"),
    order_date=st.just(date(2026, 1, 1)),
    refund_date=st.dates(min_value=date(2026, 1, 1), max_value=date(9999, 12, 31)),
    confirmed_at=st.datetimes(
        min_value=datetime(2026, 1, 2), max_value=datetime(2026, 5, 31), timezones=st.just(UTC)
    ),
    buyer_notified_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2026, 5, 31), timezones=st.just(UTC)
    ),
    evidence_kinds=st.lists(
        st.sampled_from(sorted(rules.EVIDENCE_KINDS)), min_size=1, max_size=3, unique=True
    )
    .filter(lambda k: k != ["ai_detector"])
    .map(tuple),
    evidence_digest=st.binary(min_size=32, max_size=32).map(b64),
    standard_of_proof=st.just(dict.fromkeys(rules.PROOF_PARTS, True)),
)
# A valid report with one field taken from ``reports``: each rule's edge in turn.
near_valid = st.tuples(
    valid_reports, reports, st.sampled_from(rules.ReportInput.__struct_fields__)
).map(lambda t: msgspec.structs.replace(t[0], **{t[2]: getattr(t[1], t[2])}))
any_report = st.one_of(valid_reports, near_valid, reports)


def _decodes(report: rules.ReportInput) -> bool:
    texts = [i.pseudonym for i in report.identifiers]
    return (
        wire.decode_all(texts, rules.PSEUDONYM_BYTES) is not None
        and wire.decode_all([report.evidence_digest], 32) is not None
    )


@settings(max_examples=500)
@given(any_report)
def test_passes_exactly_when_validate_finds_nothing(report: rules.ReportInput) -> None:
    assert (intake.passes(report, NOW) and _decodes(report)) == (rules.validate(report, NOW) == [])


@given(st.lists(st.one_of(valid_reports, valid_reports, near_valid), min_size=1, max_size=6))
def test_prepare_passing_prepares_as_one_by_one_or_leaves_it_to_prepare_bulk(
    batch: list[rules.ReportInput],
) -> None:
    keyring = Keyring((secrets.token_bytes(32),))
    ids = intake.new_report_ids(1, secrets.token_bytes(8 * len(batch)))
    fast = intake.prepare_passing(keyring, batch, ids, NOW)
    clean = all(rules.validate(r, NOW) == [] for r in batch) and len(
        {r.case_reference for r in batch}
    ) == len(batch)
    if not clean:
        assert fast is None
        return
    assert fast == [intake.key_report(keyring, r, ids[i], i) for i, r in enumerate(batch)]


@given(st.lists(st.tuples(moments, st.integers(1, 10**8), st.sampled_from(["CNY", "USD", "JPY"]))))
def test_first_expiries_are_each_reports_expiry(rows: list[tuple[datetime, int, str]]) -> None:
    policy = rules.RetentionPolicy()
    batch = [
        msgspec.structs.replace(_any_report(), confirmed_at=t, amount_minor=a, currency=c)
        for t, a, c in rows
    ]
    assert intake.first_expiries(batch, policy) == [
        intake.expiry_of(r, policy, repeat=False) for r in batch
    ]


def _any_report() -> rules.ReportInput:
    return rules.ReportInput(
        case_reference="c",
        identifiers=(rules.Identifier("phone", "A" * 86),),
        category="other",
        amount_minor=1,
        currency="CNY",
        order_date=date(2026, 1, 1),
        refund_date=date(2026, 1, 1),
        confirmed_at=NOW,
        buyer_notified_at=NOW,
        evidence_kinds=("other",),
        evidence_digest="A" * 43,
        standard_of_proof={},
    )


# -- access-log entries: the same bytes as the plain spelling of the format ------


def reference_entry(record: access.AccessRecord, salts: tuple[bytes, ...]) -> bytes:
    """The entry spelled out plainly: canonical JSON (sorted keys, no spaces)."""
    import json

    utc = record.at.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    body = {
        "v": 2 if record.jti is not None else 1,
        "at": ((utc - epoch).days * 86_400 + (utc - epoch).seconds) * 10**6 + utc.microsecond,
        "actor": record.actor,
        "role": record.role,
        "action": record.action,
        "request": record.request_digest,
        "subjects": [
            b64(hashlib.sha256(s + k).digest())
            for s, k in zip(salts, record.subject_keys, strict=True)
        ],
    }
    for name in ("purpose", "outcome", "query_id"):
        if getattr(record, name) is not None:
            body[name] = getattr(record, name)
    if record.detail:
        body["detail"] = record.detail
    if record.jti is not None:
        body["iss"] = record.issuer if record.issuer is not None else record.actor
        body["jti"] = record.jti
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


optional_text = st.one_of(st.none(), st.text(max_size=12))


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
    ),
    st.lists(st.binary(min_size=32, max_size=32), max_size=4),
    optional_text,
    optional_text,
    optional_text,
    st.one_of(st.none(), st.text(min_size=1, max_size=8)),
    st.dictionaries(st.text(max_size=6), st.one_of(st.booleans(), st.text(max_size=6)), max_size=3),
)
def test_an_entry_has_the_bytes_of_its_plain_spelling(
    at: datetime,
    keys: list[bytes],
    purpose: str | None,
    outcome: str | None,
    issuer: str | None,
    jti: str | None,
    detail: dict[str, object],
) -> None:
    record = access.AccessRecord(
        at=at, actor="mem_a", role="member", action="report.file", request_digest="d",
        subject_keys=tuple(keys), purpose=purpose, outcome=outcome, detail=detail,
        issuer=issuer, jti=jti,
    )  # fmt: skip
    salts = tuple(secrets.token_bytes(16) for _ in keys)
    encoded = access.encode(record, salts)
    assert encoded.entry == reference_entry(record, salts)
    assert encoded.leaf_hash == leaf_hash(encoded.entry)
    assert encoded.at_micros == access.micros(at)
    assert encoded.salts == salts


@given(st.lists(valid_reports, max_size=5))
def test_request_hashes_are_each_reports_request_hash(batch: list[rules.ReportInput]) -> None:
    assert intake.request_hashes(batch) == [rules.request_hash(r) for r in batch]
