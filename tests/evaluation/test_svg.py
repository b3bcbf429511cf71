"""evaluation/svg.py: chart geometry and markup (escaped, one mark per value)."""

from __future__ import annotations

import math
import re

import pytest

from evaluation.svg import Scale, bar_rows, grouped_bars, line_chart, nice_max


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0.3], 0.5), ([7.0], 10.0), ([120.0, 3.0], 200.0), ([], 1.0), ([0.0], 1.0),
     ([math.inf, 2.2], 2.5), ([1.0], 1.0)],
)  # fmt: skip
def test_nice_max_is_the_next_round_number(values: list[float], expected: float) -> None:
    assert nice_max(values) == pytest.approx(expected)


def test_scale_clamps_values_into_the_plot_and_centres_a_single_point() -> None:
    s = Scale(left=10, top=5, width=100, height=50, n=3, y_max=2.0)
    assert s.y(2.0) == 5 and s.y(4.0) == 5 and s.y(0.0) == 55 and s.y(-1.0) == 55
    assert s.y(1.0) == pytest.approx(30)
    assert [s.x(i) for i in range(3)] == [10, 60, 110]
    assert Scale(10, 5, 100, 50, 1, 1.0).x(0) == 60


def test_line_chart_escapes_text_and_skips_missing_values() -> None:
    svg = line_chart("c<1>", "<b>title</b>", ["<x>", "y"], {"a&b": [None, 0.5], "c": [None, None]})
    assert "<b>" not in svg and "&lt;b&gt;" in svg and 'id="c&lt;1&gt;"' in svg
    assert svg.count('class="series"') == 1 and svg.count('class="point"') == 1
    assert 'data-series="a&amp;b"' in svg and "&lt;x&gt;" in svg


def test_bar_rows_mark_a_node_over_its_limit_red_with_the_limit_line() -> None:
    svg = bar_rows("b", [("retrieve", 50.0, 10.0), ("parse", 3.0, 10.0), ("new", 4.0, None)],
                   [1.8, 1.5, 1.5])  # fmt: skip
    fills = re.findall(r'<rect class="bar"[^>]*fill="(#[0-9a-f]+)"', svg)
    assert fills == ["#d62728", "#1f77b4", "#1f77b4"]
    assert svg.count('class="limit"') == 2 and "1.8× baseline" in svg
    with pytest.raises(ValueError):
        bar_rows("b", [("x", 1.0, None)], [])


def test_grouped_bars_draw_one_bar_per_present_value_clamped_to_the_plot() -> None:
    svg = grouped_bars("g", "t", ["Spearman", "ARI"], {"use": [0.8, None], "tfidf": [1.7, -0.2]})
    pattern = r'data-series="(\w+)" data-group="(\w+)" x="\d+" y="\d+" width="([\d.]+)"'
    bars = re.findall(pattern, svg)
    assert [(s, g) for s, g, _ in bars] == [
        ("use", "Spearman"),
        ("tfidf", "Spearman"),
        ("tfidf", "ARI"),
    ]
    widths = {(s, g): float(w) for s, g, w in bars}
    assert widths[("tfidf", "Spearman")] == 400.0  # clamped to 1.0 of the 400 px plot
    assert widths[("use", "Spearman")] == pytest.approx(320.0) and widths[("tfidf", "ARI")] == 1.0
