"""Server-rendered SVG charts of a member's days, for the auditor's console.

Plain SVG, built here rather than by a charting library: it carries no script,
no style element (the console's Content Security Policy allows neither inline
scripts nor inline styles), no font and no external reference. Each chart has
a ``<title>`` and a ``<desc>`` for screen readers, and the page shows the same
figures in a table next to it. Text goes through :func:`markupsafe.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from refund_registry.domain.audit_console import scale_for

WIDTH = 640
HEIGHT = 220
_LEFT = 44
_BOTTOM = 28
_TOP = 14


@dataclass(frozen=True, slots=True)
class Bar:
    """One day of a chart: its label, its values (one per series) and whether it is flagged."""

    label: str
    values: tuple[int, ...]
    flag: str | None = None


def bar_chart(
    *, chart_id: str, title: str, desc: str, series: Sequence[str], bars: Sequence[Bar]
) -> Markup:
    """Grouped bars per day, one colour class per series; flagged days get a marker.

    ``series`` names each value of a bar (shown in a legend); a bar's ``flag``
    is the text of its marker's tooltip (the anomalies of that day).
    """
    plot_h = HEIGHT - _BOTTOM - _TOP
    plot_w = WIDTH - _LEFT - 8
    scale = scale_for([v for bar in bars for v in bar.values], plot_h)
    slot = plot_w / max(1, len(bars))
    width = max(1.0, (slot - 4) / max(1, len(series)))
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT + 18}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    base = HEIGHT - _BOTTOM
    for tick in scale.ticks():
        y = base - scale(tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#d0d4d9" stroke-width="1"/>'
            f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11">{tick}</text>'
        )
    for i, bar in enumerate(bars):
        x0 = _LEFT + i * slot + 2
        for j, value in enumerate(bar.values):
            h = scale(value)
            parts.append(
                f'<rect class="bar series-{j}" x="{x0 + j * width:.1f}" y="{base - h:.1f}" '
                f'width="{width:.1f}" height="{h:.1f}">'
                f"<title>{escape(bar.label)}: {escape(series[j])} {value}</title></rect>"
            )
        if bar.flag:
            cx = x0 + (slot - 4) / 2
            parts.append(
                f'<g class="flag" data-day="{escape(bar.label)}">'
                f'<polygon points="{cx - 7:.1f},{_TOP + 2} {cx + 7:.1f},{_TOP + 2} '
                f'{cx:.1f},{_TOP + 14}" fill="#b3261e"/>'
                f"<title>{escape(bar.label)}: {escape(bar.flag)}</title></g>"
            )
        if i % 2 == 0 or len(bars) <= 7:
            parts.append(
                f'<text class="axis" x="{x0 + (slot - 4) / 2:.1f}" y="{base + 16}" '
                f'text-anchor="middle" font-size="11">{escape(bar.label[5:])}</text>'
            )
    for j, name in enumerate(series):
        x = _LEFT + j * 170
        parts.append(
            f'<rect class="bar series-{j}" x="{x}" y="{HEIGHT + 4}" width="12" height="12"/>'
            f'<text x="{x + 16}" y="{HEIGHT + 14}" font-size="12">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it went through escape())


def share_bar(*, chart_id: str, title: str, shares: Sequence[tuple[str, float, bool]]) -> Markup:
    """One horizontal bar split by share (``(label, share 0..1, unexpected)``), 100 % wide."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart share" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} 34" role="img" aria-labelledby="{escape(chart_id)}-title">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    x = 0.0
    for k, (label, share, unexpected) in enumerate(shares):
        w = max(0.0, min(1.0, share)) * WIDTH
        kind = "unexpected" if unexpected else f"series-{k % 4}"
        parts.append(
            f'<rect class="part {kind}" x="{x:.1f}" y="4" width="{w:.1f}" height="26">'
            f"<title>{escape(label)}: {share:.0%}</title></rect>"
        )
        x += w
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text in it went through escape())
