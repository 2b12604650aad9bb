"""The auditor console's pure rules: CSV cells, export names, chart scales, the merge delay."""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from refund_registry.domain.audit_console import (
    MERGE_DELAY_PROMISE,
    checkpoint_delay,
    csv_cell,
    export_filename,
    merge_delay,
    nice_top,
    scale_for,
)
from refund_registry.domain.audit_views import EntryFilter
from refund_registry.services.audit_console import csv_line
from refund_registry.web.console.audit_charts import Bar, bar_chart, share_bar
from refund_registry.web.console.audit_filters import parse_filters, purpose_shares, query_string

FORMULA = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


# --------------------------------------------------------------------------- CSV


@given(st.text())
def test_no_text_cell_starts_like_a_formula(text: str) -> None:
    cell = csv_cell(text)
    assert not cell.startswith(FORMULA)
    assert cell in (text, "'" + text)
    assert (cell != text) == text.startswith(FORMULA)


@given(st.lists(st.one_of(st.text(), st.integers(), st.none()), min_size=1, max_size=8))
def test_a_csv_line_reads_back_as_its_safe_cells(values: list[object]) -> None:
    line = csv_line(values)
    assert line.endswith("\r\n")
    [row] = list(csv.reader(io.StringIO(line, newline="")))
    assert row == [csv_cell(v) for v in values]


def test_known_injections_are_defused() -> None:
    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell(-3) == "-3"
    assert csv_cell("plain") == "plain"
    assert csv_cell(None) == ""


@given(
    st.builds(
        EntryFilter,
        member=st.one_of(st.none(), st.text(max_size=300)),
        purpose=st.one_of(st.none(), st.text(max_size=300)),
        since=st.one_of(st.none(), moments),
    )
)
def test_export_names_are_safe_in_any_header(filters: EntryFilter) -> None:
    name = export_filename(filters)
    assert re.fullmatch(r"[A-Za-z0-9._-]+\.csv", name)
    assert name.startswith("access-log")
    assert len(name) <= 120


def test_the_filter_is_in_the_export_name() -> None:
    name = export_filename(EntryFilter(member="mem_x", action="risk.query"))
    assert name == "access-log_member-mem_x_action-risk.query.csv"


# --------------------------------------------------------------------------- charts


@given(st.floats(min_value=0.001, max_value=1e12, allow_nan=False))
def test_the_axis_top_is_round_and_covers_the_largest_value(largest: float) -> None:
    top = nice_top(largest)
    assert top >= largest
    assert top < 10 * largest + 10  # never absurdly far above
    digits = str(top).rstrip("0")
    assert digits in ("1", "2", "25", "5")


@given(
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=40),
    st.integers(1, 600),
)
def test_every_value_fits_and_order_is_kept(values: list[int], height: int) -> None:
    scale = scale_for(values, height)
    scaled = [scale(v) for v in values]
    assert all(0 <= s <= height for s in scaled)
    for a, b in itertools.pairwise(values):
        assert (scale(a) <= scale(b)) == (a <= b) or scale(a) == scale(b)
    if max(values) > 0:
        assert max(scaled) > height / 10 - 1e-9  # the largest bar is visible
    assert scale.ticks()[0] == 0


def test_charts_hold_no_script_style_or_external_reference() -> None:
    svg = str(
        bar_chart(
            chart_id="c",
            title="<script>alert(1)</script>",
            desc="d",
            series=["Queries", "Subjects", "Accesses"],
            bars=[Bar("2026-01-01", (5, 3, 1), "subject_sweep"), Bar("2026-01-02", (0, 0, 0))],
        )
    ) + str(share_bar(chart_id="s", title="t", shares=[("refund_decision", 0.5, False)]))
    assert "<script" not in svg
    assert "<style" not in svg
    assert "style=" not in svg
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"] * 2
    assert "<title" in svg
    assert 'class="flag"' in svg


def test_purpose_shares_weigh_each_day_by_its_looks() -> None:
    days = [
        {"queries": 10, "purposes": {"refund_decision": 1.0}},
        {"queries": 30, "purposes": {"refund_decision": 0.5, "fraud_investigation": 0.5}},
    ]
    shares = purpose_shares(days)
    assert shares == [("refund_decision", 25 / 40, False), ("fraud_investigation", 15 / 40, True)]


# --------------------------------------------------------------------------- merge delay


@given(moments, st.integers(min_value=-(10**6), max_value=10**7))
def test_the_promise_is_kept_exactly_up_to_sixty_seconds(now: datetime, waited_ms: int) -> None:
    oldest = now - timedelta(milliseconds=waited_ms)
    delay = merge_delay(oldest, now)
    assert delay.seconds == max(0, waited_ms / 1000) or abs(delay.seconds - waited_ms / 1000) < 1e-6
    assert delay.kept == (timedelta(milliseconds=waited_ms) <= MERGE_DELAY_PROMISE)
    assert delay.promise_seconds == 60


def test_nothing_waiting_keeps_the_promise() -> None:
    delay = merge_delay(None, datetime.now(UTC))
    assert delay.kept
    assert delay.seconds == 0
    assert delay.waiting_since is None


@given(moments, st.integers(min_value=0, max_value=10**6))
def test_a_checkpoint_is_late_only_beyond_the_promise(signed: datetime, waited_s: int) -> None:
    waited, kept = checkpoint_delay(signed, signed - timedelta(seconds=waited_s))
    assert waited == waited_s
    assert kept == (waited_s <= 60)
    assert checkpoint_delay(signed, None) == (None, True)


# --------------------------------------------------------------------------- filters


@given(
    st.builds(
        EntryFilter,
        member=st.one_of(st.none(), st.text(min_size=1, max_size=50).map(str.strip).filter(bool)),
        action=st.one_of(st.none(), st.sampled_from(["risk.query", "audit.read"])),
        since=st.one_of(st.none(), moments.map(lambda m: m.replace(second=0, microsecond=0))),
    )
)
def test_filters_survive_their_query_string(filters: EntryFilter) -> None:
    from urllib.parse import parse_qsl

    again = parse_filters(dict(parse_qsl(query_string(filters))))
    assert again == filters
