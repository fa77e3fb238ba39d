"""Small charts drawn here: the Train tab's loss and validation curves (inline SVG) and the Data tab's
label counts (HTML bars).

Drawn here rather than with gr.LinePlot, whose Vega-Lite charts lost their legend entries when rows
arrived by timer, labelled whole steps and epochs "1.000000", and warned in the console about empty
data. Pure: numbers and our own fixed strings in, a self-contained SVG string out (no user text ever
reaches it, and series names are escaped all the same).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ftdemo.explain.render import display_text
from ftdemo.ui.html import esc

WIDTH, HEIGHT = 560, 230
LEFT, RIGHT, TOP, BOTTOM = 46, 14, 34, 38  # room for y labels, legend, x labels and the x title


@dataclass(frozen=True)
class Series:
    name: str
    color: str  # a CSS colour we chose, e.g. "#6366f1"
    points: Sequence[tuple[float, float]]
    markers: bool = False  # dots on the points (sparse series such as per-epoch values)


def nice_ticks(low: float, high: float, *, count: int = 5, whole: bool = False) -> list[float]:
    """About `count` round tick values covering [low, high] (steps of 1, 2 or 5 × 10^k; whole numbers
    only when `whole`, so epochs and steps never get fractional ticks)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + 1
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, round(step))
    first = math.ceil(low / step - 1e-9) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float, whole: bool) -> str:
    if whole:
        return str(int(round(value)))
    return f"{value:.3g}"


def line_chart(series: Sequence[Series], *, title: str, x_title: str, y_lim: tuple[float, float] | None = None,
               whole_x: bool = True, empty: str = "no data yet", marks: Sequence[tuple[float, str]] = ()) -> str:
    """An SVG line chart with a legend that always lists every series, and whole-number x ticks. `marks`:
    (x, label) where something new starts (a label check's next fine-tune): a dashed line with the label,
    and no series line drawn across it."""
    points = [p for s in series for p in s.points if math.isfinite(p[0]) and math.isfinite(p[1])]
    parts = [f'<svg class="ftd-chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
             f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
             f'<text x="{WIDTH / 2}" y="14" text-anchor="middle" font-size="12" font-weight="600">{esc(title)}</text>']
    legend_x = LEFT
    for s in series:  # the legend: every series, with or without data yet
        parts.append(f'<line x1="{legend_x}" y1="25" x2="{legend_x + 16}" y2="25" stroke="{esc(s.color)}" '
                     f'stroke-width="2.5"/><text x="{legend_x + 20}" y="29">{esc(s.name)}</text>')
        legend_x += 28 + 7 * len(s.name)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ddd"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle" fill="#555">'
                 f'{esc(x_title)}</text>')
    if not points:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" fill="#888">'
                     f'{esc(empty)}</text></svg>')
        return "".join(parts)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = y_lim if y_lim else (min(0.0, min(ys)), max(ys) * 1.05 or 1.0)
    sx = lambda x: LEFT + (x - x0) / (x1 - x0) * plot_w  # noqa: E731
    sy = lambda y: TOP + plot_h - (min(max(y, y0), y1) - y0) / ((y1 - y0) or 1) * plot_h  # noqa: E731
    for tick in nice_ticks(y0, y1):
        if y0 <= tick <= y1:
            parts.append(f'<line x1="{LEFT}" y1="{sy(tick):.1f}" x2="{LEFT + plot_w}" y2="{sy(tick):.1f}" '
                         f'stroke="#eee"/><text x="{LEFT - 5}" y="{sy(tick) + 4:.1f}" text-anchor="end" '
                         f'fill="#555">{_label(tick, False)}</text>')
    for tick in nice_ticks(x0, x1, count=8, whole=whole_x):
        if x0 <= tick <= x1:
            parts.append(f'<text x="{sx(tick):.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" fill="#555">'
                         f'{_label(tick, whole_x)}</text>')
    cuts = sorted(x for x, _ in marks if x0 < x < x1)
    for x, label in marks:
        if x0 < x < x1:
            parts.append(f'<line x1="{sx(x):.1f}" y1="{TOP}" x2="{sx(x):.1f}" y2="{TOP + plot_h}" stroke="#999" '
                         f'stroke-dasharray="4 3"/><text x="{sx(x) + 3:.1f}" y="{TOP + 11}" fill="#777" '
                         f'font-size="10">{esc(label)}</text>')
    for s in series:
        finite = [(x, y) for x, y in s.points if math.isfinite(x) and math.isfinite(y)]
        for piece in _pieces(finite, cuts):
            pts = [(sx(x), sy(y)) for x, y in piece]
            if len(pts) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                parts.append(f'<polyline points="{path}" fill="none" stroke="{esc(s.color)}" stroke-width="2"/>')
            if s.markers or len(pts) == 1:
                parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{esc(s.color)}"/>' for x, y in pts)
    parts.append("</svg>")
    return "".join(parts)


def _pieces(points: Sequence[tuple[float, float]], cuts: Sequence[float]) -> list[list[tuple[float, float]]]:
    """The points split wherever two neighbours lie on either side of a cut."""
    out: list[list[tuple[float, float]]] = []
    for point in points:
        if not out or any(out[-1][-1][0] < cut <= point[0] for cut in cuts):
            out.append([])
        out[-1].append(point)
    return out


def series_of(points: Mapping[str, Sequence[tuple[float, float]]], colors: Mapping[str, str],
              markers: Sequence[str] = ()) -> list[Series]:
    """Series in the order of `colors` (every one, empty or not), so the legend never changes."""
    return [Series(name, color, list(points.get(name, ())), name in markers) for name, color in colors.items()]


def bar_chart(counts: Mapping[str, int], *, title: str, empty: str = "nothing to count yet") -> str:
    """Horizontal bars, one per key in the given order, each with its count. Keys are user text (label
    names): cleaned of bidi controls and escaped."""
    top = max(counts.values(), default=0)
    rows = "".join(
        f'<div class="ftd-bar-row"><span class="ftd-bar-label">{display_text(name, 40)}</span><span class="ftd-bar-track"><span class="ftd-bar" '
        f'style="width:{100 * n / top if top else 0:.1f}%"></span></span><span class="ftd-bar-n">{int(n)}</span></div>'
        for name, n in counts.items())
    body = rows or f'<div class="ftd-empty">{esc(empty)}</div>'
    return f'<div class="ftd-bars"><div class="ftd-bars-title">{esc(title)}</div>{body}</div>'
