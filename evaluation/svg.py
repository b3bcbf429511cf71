"""Small inline-SVG charts for the /eval page: line charts over runs and horizontal bars.

Pure: numbers in, SVG markup out (as `markupsafe.Markup`, every text escaped), no scripts and no
external resources. Geometry (`Scale`, `nice_max`) is separate from markup so it can be tested.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
SVG_NS = "http://www.w3.org/2000/svg"


def color(i: int) -> str:
    """The i-th series colour (cycling)."""
    return COLORS[i % len(COLORS)]


def fmt(value: float, percent: bool) -> str:
    """An axis or tooltip number: 12.3% or 1,234.5."""
    return f"{value * 100:.1f}%" if percent else f"{value:,.1f}"


def nice_max(values: Sequence[float]) -> float:
    """The smallest 1/2/2.5/5 x 10^n at or above the largest finite value (1.0 for none)."""
    top = max([v for v in values if math.isfinite(v)] or [1.0])
    if top <= 0:
        return 1.0
    magnitude = float(10.0 ** math.floor(math.log10(top)))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


@dataclass(frozen=True)
class Scale:
    """Maps point index and value to pixel coordinates inside a plot area."""

    left: float
    top: float
    width: float
    height: float
    n: int
    y_max: float

    def x(self, i: int) -> float:
        """x of the i-th of n points (a single point sits in the middle)."""
        if self.n <= 1:
            return self.left + self.width / 2
        return self.left + self.width * i / (self.n - 1)

    def y(self, v: float) -> float:
        """y of a value, clamped to the plot area (0 at the bottom, y_max at the top)."""
        return self.top + self.height * (1 - min(max(v / self.y_max, 0.0), 1.0))


def _open(chart_id: str, css: str, width: int, height: int, label: str = "") -> str:
    aria = f' role="img" aria-label="{escape(label)}"' if label else ""
    return (
        f'<svg class="{css}" id="{escape(chart_id)}" xmlns="{SVG_NS}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"{aria}>'
    )


def legend(names: Sequence[str]) -> Markup:
    """Colour keys for the series names."""
    keys = "".join(
        f'<span class="key"><i style="background:{color(s)}"></i>{escape(name)}</span>'
        for s, name in enumerate(names)
    )
    return Markup(f'<div class="legend">{keys}</div>')


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    percent: bool = True,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """A line chart in a <figure>: one <path class="series"> per series, a point per value."""
    left, right, top, bottom = 56, 40, 12, 40
    values = [v for vs in series.values() for v in vs if v is not None]
    n = len(labels)
    scale = Scale(
        left, top, width - left - right, height - top - bottom, n,
        1.0 if percent else nice_max(values),
    )  # fmt: skip
    parts = [_open(chart_id, "chart", width, height, title)]
    for step in range(5):
        v = scale.y_max * step / 4
        gy = scale.y(v)
        parts.append(
            f'<line class="grid" x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#555">{escape(fmt(v, percent))}</text>'
        )
    shown = max(1, math.ceil(n / 8))
    for i, lab in enumerate(labels):
        if i % shown == 0 or i == n - 1:
            parts.append(
                f'<text x="{scale.x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="10" fill="#555">{escape(lab)}</text>'
            )
    base = top + scale.height
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#888"/>')
    for s, (name, vs) in enumerate(series.items()):
        points = [(scale.x(i), scale.y(v), v) for i, v in enumerate(vs[:n]) if v is not None]
        if not points:
            continue
        d = " ".join(
            f"{'M' if j == 0 else 'L'}{px:.1f},{py:.1f}" for j, (px, py, _) in enumerate(points)
        )
        parts.append(
            f'<path class="series" data-series="{escape(name)}" data-points="{len(points)}" '
            f'd="{d}" fill="none" stroke="{color(s)}" stroke-width="2"/>'
        )
        for px, py, v in points:
            parts.append(
                f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color(s)}">'
                f"<title>{escape(name)}: {escape(fmt(v, percent))}</title></circle>"
            )
    parts.append("</svg>")
    return Markup(
        f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}"
        f"{legend(list(series))}</figure>"
    )


def bar_rows(
    chart_id: str, rows: Sequence[tuple[str, float, float | None]], limits: Sequence[float]
) -> Markup:
    """Horizontal bars of p95 (ms) per node; `limits[i]` is row i's threshold x baseline factor.

    A bar is red when p95 exceeds its limit x baseline, and the limit is marked with a dashed line.
    """
    width, row_h, left = 640, 26, 120
    top = max([max(p95, (b or 0) * f) for (_, p95, b), f in zip(rows, limits, strict=True)] or [1])
    px_per_ms = (width - left - 90) / (top or 1.0)
    height = row_h * len(rows) + 8
    parts = [_open(chart_id, "chart bars", width, height)]
    for i, ((node, p95, baseline), factor) in enumerate(zip(rows, limits, strict=True)):
        ry = 4 + i * row_h
        slow = baseline is not None and p95 > factor * baseline
        bar_w = max(p95 * px_per_ms, 1)
        parts.append(
            f'<text x="{left - 6}" y="{ry + 15}" text-anchor="end" font-size="12">'
            f"{escape(node)}</text>"
            f'<rect class="bar" x="{left}" y="{ry}" width="{bar_w:.1f}" height="{row_h - 8}" '
            f'fill="{"#d62728" if slow else "#1f77b4"}"><title>p95 {p95:,.1f} ms</title></rect>'
            f'<text x="{left + bar_w + 4:.1f}" y="{ry + 14}" font-size="11">{p95:,.1f} ms</text>'
        )
        if baseline:
            limit = factor * baseline
            bx = left + limit * px_per_ms
            parts.append(
                f'<line class="limit" x1="{bx:.1f}" y1="{ry - 2}" x2="{bx:.1f}" '
                f'y2="{ry + row_h - 6}" stroke="#000" stroke-dasharray="3,2">'
                f"<title>limit {limit:,.1f} ms = {factor}× baseline "
                f"{baseline:,.1f} ms</title></line>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def grouped_bars(
    chart_id: str,
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    width: int = 640,
) -> Markup:
    """Side-by-side horizontal bars: per group (a metric), one bar per series (a model), 0..1.

    Missing values (None) draw no bar. Bars carry data-series/data-group for tests and tooltips.
    """
    left, bar_h, gap = 170, 12, 10
    names = list(series)
    group_h = bar_h * max(1, len(names)) + gap
    height = group_h * len(groups) + 8
    plot_w = width - left - 70
    parts = [_open(chart_id, "chart grouped", width, height, title)]
    for g, group in enumerate(groups):
        gy = 4 + g * group_h
        parts.append(
            f'<text x="{left - 6}" y="{gy + group_h / 2:.1f}" text-anchor="end" '
            f'font-size="12">{escape(group)}</text>'
        )
        for s, name in enumerate(names):
            values = series[name]
            v = values[g] if g < len(values) else None
            if v is None or not math.isfinite(v):
                continue
            by = gy + s * bar_h
            w = max(min(max(v, 0.0), 1.0) * plot_w, 1)
            parts.append(
                f'<rect class="bar" data-series="{escape(name)}" data-group="{escape(group)}" '
                f'x="{left}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" fill="{color(s)}">'
                f"<title>{escape(name)} {escape(group)}: {v:.3f}</title></rect>"
                f'<text x="{left + w + 4:.1f}" y="{by + bar_h - 3}" font-size="10">{v:.3f}</text>'
            )
    parts.append("</svg>")
    return Markup(
        f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}{legend(names)}</figure>"
    )
