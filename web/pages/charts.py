"""Charts as inline SVG, drawn on the server: no script, nothing fetched. Each chart is an image with a
title and a description for screen readers (``role="img"``, ``aria-labelledby``), and its page shows
the same figures as a table. Colours have at least 3:1 contrast with the white background (WCAG 1.4.11)
and the series are told apart by their labels too, never by colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

PALETTE = ("#5b6670", "#1a4f8b", "#a35200", "#8a1c1c", "#4b2a7b", "#1f6b3a", "#0b6e79", "#6d4c00")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value:
            return float(top)
    return float(value)


def stacked_bars(
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 760,
    height: int = 280,
) -> str:
    """Bars per label, stacked by series (e.g. open cases per stage per week), with a legend."""
    left, right, top, bottom = 48, 12, 14, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    ymax = _nice_max(max(totals, default=0))
    n = max(len(labels), 1)
    slot = plot_w / n
    bar = max(slot * 0.7, 1)
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for k in range(5):
        value = ymax * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c9d1d8"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        base = 0.0
        for j, (_name, values) in enumerate(series):
            v = float(values[i])
            if v <= 0:
                continue
            h = plot_h * v / ymax
            y = top + plot_h - plot_h * base / ymax - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{PALETTE[j % 8]}"/>')
            base += v
        if n <= 14 or i % max(n // 12, 1) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{escape(label)}</text>'
            )
    lx = left
    for j, (name, _values) in enumerate(series):
        ly = height - 22
        parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{PALETTE[j % 8]}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly}">{escape(name)}</text>')
        lx += 14 + 7 * len(name) + 18
    parts.append("</svg>")
    return "".join(parts)


def hbars(chart_id: str, title: str, description: str, items: Sequence[tuple[str, Decimal | float, str]],
          *, width: int = 420, maximum: float | None = None) -> str:  # fmt: skip
    """One horizontal bar per item (label, value, the value as text), e.g. the collection rate."""
    row, left, right = 26, 150, 60
    height = max(len(items), 1) * row + 16
    top = max((float(v) for _l, v, _t in items), default=0.0)
    scale = maximum or _nice_max(top)
    parts = [
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(description)}</desc>',
    ]
    for i, (label, value, text) in enumerate(items):
        y = 8 + i * row
        w = (width - left - right) * float(value) / scale if scale else 0
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label[:28])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{max(w, 0):.1f}" height="16" fill="{PALETTE[1]}"/>')
        parts.append(f'<text x="{left + max(w, 0) + 6:.1f}" y="{y + 15}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)
