"""The auditor console's reads on real PostgreSQL: member days, checkpoints, merge delay, CSV."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ed25519
from msgspec.structs import replace

from refund_registry.domain.audit_views import EntryFilter
from refund_registry.runtime import Runtime
from refund_registry.services import audit_console
from refund_registry.services.sequencer import sequence_once
from tests.support.factories import access_record


def key_of(rt: Runtime) -> ed25519.Ed25519PrivateKey:
    assert rt.registry is not None
    return rt.registry.log_key


async def test_a_sweep_is_flagged_on_its_day_only_for_its_member(runtime: Runtime) -> None:
    sweeper, calm = "mem_sweeper", "mem_calm"
    await runtime.access_log.append_many([access_record(sweeper) for _ in range(120)])
    same = access_record(calm)
    await runtime.access_log.append_many([same, replace(same, request_digest="r2")])
    today = datetime.now(UTC).date()

    series = await audit_console.member_series(runtime.pool, last_day=today, member=None)
    by_member = {s.member: s for s in series}
    assert list(by_member) == [sweeper, calm]  # busiest first
    days = by_member[sweeper].days
    assert len(days) == audit_console.CHART_DAYS
    assert days[-1]["day"] == today.isoformat()
    assert (days[-1]["queries"], days[-1]["distinct_subjects"]) == (120, 120)
    assert {a["code"] for a in days[-1]["anomalies"]} == {"subject_sweep", "burst"}
    assert all(d["queries"] == 0 and not d["anomalies"] for d in days[:-1])
    assert by_member[sweeper].flagged
    assert not by_member[calm].flagged

    only = await audit_console.member_series(runtime.pool, last_day=today, member=calm)
    assert [s.member for s in only] == [calm]
    assert only[0].days[-1]["distinct_subjects"] == 1


async def test_checkpoint_history_and_the_merge_delay(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    assert (await audit_console.current_merge_delay(runtime.pool, now)).waiting_since is None

    await runtime.access_log.append_many([access_record() for _ in range(3)])
    waiting = await audit_console.current_merge_delay(runtime.pool, now + timedelta(seconds=90))
    assert waiting.waiting_since is not None
    assert not waiting.kept
    assert waiting.seconds > 60

    await sequence_once(runtime.pool, key_of(runtime), force_checkpoint=True)
    done = await audit_console.current_merge_delay(runtime.pool, datetime.now(UTC))
    assert done.waiting_since is None
    assert done.kept

    # Sequenced but not signed yet still counts as waiting.
    await runtime.access_log.append_many([access_record() for _ in range(2)])
    await sequence_once(runtime.pool, key_of(runtime), checkpoint_interval=3600)
    assert await runtime.pool.fetchval("SELECT count(*) FROM log_leaves") == 5
    assert await runtime.pool.fetchval("SELECT max(size) FROM checkpoints") == 3
    unsigned = await audit_console.current_merge_delay(runtime.pool, datetime.now(UTC))
    assert unsigned.waiting_since is not None
    assert unsigned.kept
    late = await audit_console.current_merge_delay(
        runtime.pool, unsigned.waiting_since + timedelta(seconds=61)
    )
    assert not late.kept

    await sequence_once(runtime.pool, key_of(runtime), force_checkpoint=True)
    history = await audit_console.checkpoint_history(runtime.pool, before=None)
    assert [(c.size, c.new_entries) for c in history] == [(5, 2), (3, 3)]
    assert all(c.kept and c.waited_seconds is not None for c in history)
    assert [c.size for c in await audit_console.checkpoint_history(runtime.pool, before=5)] == [3]


async def test_the_csv_export_streams_every_matching_entry_safely(runtime: Runtime) -> None:
    mine = [replace(access_record("mem_a"), purpose='=HYPERLINK("http://evil")')]
    mine += [access_record("mem_a") for _ in range(1200)]
    await runtime.access_log.append_many([*mine, access_record("mem_b")])
    await sequence_once(runtime.pool, key_of(runtime), force_checkpoint=True)

    chunks = [c async for c in audit_console.export_csv(runtime.pool, EntryFilter(member="mem_a"))]
    rows = list(csv.reader(io.StringIO("".join(chunks), newline="")))
    assert rows[0] == list(audit_console.CSV_COLUMNS)
    assert len(rows) == 1 + 1201  # more than one page of the store
    assert {r[2] for r in rows[1:]} == {"mem_a"}
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["purpose"] == '\'=HYPERLINK("http://evil")'
    # A base64url hash may begin with "-", which a spreadsheet reads as a formula:
    # such a cell is quoted like any other.
    leaf_hash = first["leaf_hash"]
    assert len(leaf_hash.removeprefix("'")) == 43
    assert leaf_hash.startswith("'") == leaf_hash.startswith("'-")
    assert [int(r[0]) for r in rows[1:]] == sorted(int(r[0]) for r in rows[1:])
    assert secrets.compare_digest(rows[1][0], "0")
