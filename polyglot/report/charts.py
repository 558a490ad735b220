"""Inline SVG charts for every report page: no scripts, no external files, offline.

Every chart is laid out on a ``Canvas`` that knows the box of each piece of text it places
(estimated from the characters: wide East Asian characters count one em, combining marks none,
everything else a conservative 0.62 em), so titles, axis labels, tick labels and legends are
placed next to each other, never on top of each other, and the SVG's viewBox is grown to hold
them all. ``tests/report/test_charts.py`` re-measures every text of every chart type from the
SVG alone, for 1, 6 and 20 languages, long labels, and 0% and 100% values.

Colours are the Okabe–Ito palette (distinct for the common colour-vision deficiencies);
heatmaps use a sequential blue scale whose lightness alone carries the value. Every mark has an
SVG ``<title>``, which browsers show on hover.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

# Okabe–Ito without its yellow, which barely shows on white
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
MAX_WIDTH = 1100  # px a chart may take on a page; wider vertical bars turn horizontal
GOOD, BAD, NEUTRAL = "#009E73", "#D55E00", "#BBBBBB"
# a sequential light-to-dark blue scale (Color Brewer "Blues"), interpolated
_SEQUENTIAL = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]

TITLE_SIZE, LABEL_SIZE, TICK_SIZE = 14, 12, 11
_PAD = 6  # space between neighbouring texts and around the drawing


_NARROW = set("iljtfr.,:;'!|()[]")
_WIDE_LATIN = set("MWmw@%")


def _char_width(char: str) -> float:
    """A generous width in em of one character in a sans-serif font (measured against Noto
    Sans and DejaVu Sans in Chromium: "WWWWWWWW" is 7.4 em, estimated 7.6)."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0.0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    if char in _WIDE_LATIN:
        return 0.95
    if char == " ":
        return 0.3
    if char in _NARROW:
        return 0.36
    if char.isascii():
        return 0.72 if char.isupper() else 0.6
    return 0.75  # Thai, Bengali, Arabic, Devanagari, Cyrillic, accented Latin


def text_width(text: str, size: float) -> float:
    """A generous estimate of ``text``'s rendered width in px at font ``size``."""
    return sum(_char_width(char) for char in text) * size


@dataclass
class Box:
    x: float
    y: float  # top
    w: float
    h: float

    def overlaps(self, other: Box) -> bool:
        return not (
            self.x + self.w <= other.x
            or other.x + other.w <= self.x
            or self.y + self.h <= other.y
            or other.y + other.h <= self.y
        )


def text_box(x: float, y: float, text: str, size: float, anchor: str = "start") -> Box:
    """The box of a text drawn at (x, baseline y): ascent 0.8 em above, descent 0.25 below."""
    w = text_width(text, size)
    left = x - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
    return Box(left, y - 0.8 * size, w, 1.05 * size)


@dataclass
class Canvas:
    """SVG elements, and how far right and down they reach, so the frame holds them all."""

    parts: list[str] = field(default_factory=list)
    right: float = 0.0
    bottom: float = 0.0

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float = LABEL_SIZE,
        anchor: str = "start",
        cls: str = "label",
        hover: str | None = None,
    ) -> Box:
        box = text_box(x, y, text, size, anchor)
        self.extend(box.x + box.w, box.y + box.h)
        tip = f"<title>{escape(hover)}</title>" if hover else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'class="{cls}">{tip}{escape(text)}</text>'
        )
        return box

    def shape(self, svg: str, right: float, bottom: float) -> None:
        self.parts.append(svg)
        self.extend(right, bottom)

    def extend(self, right: float, bottom: float) -> None:
        self.right, self.bottom = max(self.right, right), max(self.bottom, bottom)

    def svg(self, title: str) -> str:
        width, height = math.ceil(self.right + _PAD), math.ceil(self.bottom + _PAD)
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            + "".join(self.parts)
            + "</svg>"
        )


def _rect(x: float, y: float, w: float, h: float, fill: str, hover: str = "") -> str:
    tip = f"<title>{escape(hover)}</title>" if hover else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}">{tip}</rect>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, cls: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{cls}"/>'


def _title(canvas: Canvas, title: str) -> float:
    """The title at the top left; returns the y where the drawing may start."""
    canvas.text(_PAD, _PAD + 0.8 * TITLE_SIZE, title, TITLE_SIZE, cls="chart-title")
    return _PAD + 1.05 * TITLE_SIZE + 2 * _PAD


def _legend(canvas: Canvas, entries: list[tuple[str, str]], x0: float, y: float, width: float):
    """Swatch + name entries, wrapped into rows no wider than ``width``; returns the y below."""
    if not entries:
        return y
    x, row_h = x0, LABEL_SIZE + _PAD
    for name, colour in entries:
        need = 14 + text_width(name, LABEL_SIZE) + 3 * _PAD
        if x > x0 and x + need > x0 + max(width, need):
            x, y = x0, y + row_h
        canvas.shape(_rect(x, y, 10, 10, colour, name), x + 10, y + 10)
        canvas.text(x + 14, y + 9.5, name, LABEL_SIZE, cls="legend")
        x += need
    return y + row_h


def _caption_and_legend(
    canvas: Canvas, caption: str, x: float, width: float, y: float, names: list[str]
) -> None:
    """The axis caption centred under the plot, then a legend of the series when several."""
    canvas.text(x + width / 2, y + LABEL_SIZE * 0.8, caption, LABEL_SIZE, "middle", "axis-label")
    y += LABEL_SIZE * 1.05 + _PAD
    if len(names) > 1:
        _legend(canvas, [(n, PALETTE[i % len(PALETTE)]) for i, n in enumerate(names)], x, y, width)


def _bar_hover(name: str, category: str, value: float, interval, percent: bool) -> str:
    hover = f"{name}, {category}: {_format(value, percent)}"
    if interval and None not in interval:
        hover += f" (95% CI {_format(interval[0], percent)}–{_format(interval[1], percent)})"
    return hover


def _format(value: float, percent: bool, digits: int = 1) -> str:
    """95.5% for shares; plain numbers otherwise (1,234 · 5.53 · 0.0042), never 1.2e+03."""
    if percent:
        return f"{100 * value:.{digits}f}%"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None] | None = None  # drawn as error bars


def grouped_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    y_label: str = "accuracy",
    percent: bool = True,
    maximum: float | None = None,
) -> str:
    """Bars, one group per category and one bar per series (before/after a stage), with error
    bars for the intervals; 0..maximum (1 for percentages). Vertical while they fit in
    ``MAX_WIDTH``, horizontal (one row per category) when there are too many or too long
    labels. A missing value is marked "n/a", never drawn as a zero bar."""
    values = [v for s in series for v in s.values if v is not None]
    highs = [ci[1] for s in series for ci in (s.intervals or []) if ci and ci[1] is not None]
    maximum = maximum or (1.0 if percent else max(values + highs + [1e-9]))
    ticks = nice_ticks(0.0, maximum) if not percent else [0, 0.25, 0.5, 0.75, 1.0]
    tick_labels = [_format(t, percent, 0) for t in ticks]
    bar = 16.0 if len(series) > 1 else 24.0
    group = max(len(series) * bar, max((text_width(c, LABEL_SIZE) for c in categories), default=0))
    group += 2 * _PAD
    if group * len(categories) > MAX_WIDTH - 80:
        return _horizontal_bars(title, categories, series, y_label, percent, ticks, tick_labels)
    canvas = Canvas()
    top = _title(canvas, title)
    maximum = ticks[-1]
    axis_x = _PAD + max(text_width(t, TICK_SIZE) for t in tick_labels) + _PAD
    plot_h = 200.0
    plot_w = max(group * len(categories), 60.0)
    plot_top = top + TICK_SIZE / 2
    bottom = plot_top + plot_h

    def y_of(value: float) -> float:
        return bottom - plot_h * min(max(value, 0.0), maximum) / maximum

    for tick, label in zip(ticks, tick_labels, strict=True):
        y = y_of(tick)
        canvas.shape(_line(axis_x, y, axis_x + plot_w, y, "grid"), axis_x + plot_w, y)
        canvas.text(axis_x - _PAD, y + TICK_SIZE * 0.35, label, TICK_SIZE, "end", "tick")
    canvas.shape(_line(axis_x, plot_top, axis_x, bottom, "axis"), axis_x, bottom)
    for g, category in enumerate(categories):
        x0 = axis_x + g * group + (group - len(series) * bar) / 2
        missing = [s for s, entry in enumerate(series) if entry.values[g] is None]
        if missing:  # one "n/a" above the group's baseline, hovering which series lack it
            names = ", ".join(series[s].name for s in missing)
            canvas.text(axis_x + (g + 0.5) * group, bottom - _PAD, "n/a", TICK_SIZE, "middle",
                        "value", hover=f"{category}: no value for {names}")  # fmt: skip
        for s, entry in enumerate(series):
            value = entry.values[g]
            if value is None:
                continue
            x, colour = x0 + s * bar, PALETTE[s % len(PALETTE)]
            interval = entry.intervals[g] if entry.intervals else None
            hover = _bar_hover(entry.name, category, value, interval, percent)
            canvas.shape(
                _rect(x + 1, y_of(value), bar - 2, bottom - y_of(value), colour, hover),
                x + bar,
                bottom,
            )
            if interval and None not in interval:
                cx, lo, hi = x + bar / 2, y_of(interval[0]), y_of(interval[1])
                canvas.shape(
                    _line(cx, lo, cx, hi, "whisker")
                    + _line(cx - 4, hi, cx + 4, hi, "whisker")
                    + _line(cx - 4, lo, cx + 4, lo, "whisker"),
                    cx + 4,
                    lo,
                )
        canvas.text(axis_x + (g + 0.5) * group, bottom + _PAD + LABEL_SIZE * 0.8, category,
                    LABEL_SIZE, "middle")  # fmt: skip
    below = bottom + _PAD + LABEL_SIZE * 1.05 + _PAD
    _caption_and_legend(canvas, y_label, axis_x, plot_w, below, [e.name for e in series])
    return canvas.svg(title)


def _horizontal_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    value_label: str,
    percent: bool,
    ticks: list[float],
    tick_labels: list[str],
) -> str:
    """``grouped_bars`` turned sideways: a row per category, its label on the left."""
    canvas = Canvas()
    top = _title(canvas, title)
    maximum = ticks[-1]
    left = _PAD + max((text_width(c, LABEL_SIZE) for c in categories), default=0) + _PAD
    bar = 12.0 if len(series) > 1 else 16.0
    row = max(len(series) * bar, LABEL_SIZE * 1.05) + _PAD
    span = 360.0
    first_tick = text_width(tick_labels[0], TICK_SIZE) / 2
    left = max(left, _PAD + first_tick)
    plot_top = top
    bottom = plot_top + row * len(categories)

    def x_of(value: float) -> float:
        return left + span * min(max(value, 0.0), maximum) / maximum

    for tick, label in zip(ticks, tick_labels, strict=True):
        canvas.shape(_line(x_of(tick), plot_top, x_of(tick), bottom, "grid"), x_of(tick), bottom)
        canvas.text(x_of(tick), bottom + _PAD + TICK_SIZE * 0.8, label, TICK_SIZE, "middle", "tick")
    canvas.shape(_line(left, plot_top, left, bottom, "axis"), left, bottom)
    for g, category in enumerate(categories):
        y0 = plot_top + g * row + (row - len(series) * bar) / 2
        canvas.text(left - _PAD, plot_top + g * row + row / 2 + LABEL_SIZE * 0.35, category,
                    LABEL_SIZE, "end")  # fmt: skip
        for s, entry in enumerate(series):
            value, y = entry.values[g], y0 + s * bar
            if value is None:
                canvas.text(left + _PAD, y + bar * 0.75, "n/a", TICK_SIZE, "start", "value",
                            hover=f"{entry.name}, {category}: no value")  # fmt: skip
                continue
            interval = entry.intervals[g] if entry.intervals else None
            hover = _bar_hover(entry.name, category, value, interval, percent)
            colour = PALETTE[s % len(PALETTE)]
            canvas.shape(
                _rect(left, y + 1, x_of(value) - left, bar - 2, colour, hover), x_of(value), y + bar
            )
            if interval and None not in interval:
                cy, lo, hi = y + bar / 2, x_of(interval[0]), x_of(interval[1])
                canvas.shape(
                    _line(lo, cy, hi, cy, "whisker")
                    + _line(lo, cy - 3, lo, cy + 3, "whisker")
                    + _line(hi, cy - 3, hi, cy + 3, "whisker"),
                    hi,
                    cy + 3,
                )
    below = bottom + _PAD + TICK_SIZE * 1.05 + _PAD
    canvas.extend(left + span + first_tick + _PAD, below)
    _caption_and_legend(canvas, value_label, left, span, below, [e.name for e in series])
    return canvas.svg(title)


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    x_label: str,
    y_label: str,
    percent_y: bool = False,
    markers: bool = True,
) -> str:
    """Lines through (x, y) points, one per series (training loss per step; accuracy against
    the share of items translated)."""
    canvas = Canvas()
    top = _title(canvas, title)
    # a point without a finite y (a missing value, a diverged loss) is a gap in its line
    cleaned = [
        (name, [_finite(x, y) for x, y in zip(sx, sy, strict=True)]) for name, sx, sy in series
    ]
    xs = [p[0] for _, points in cleaned for p in points if p]
    ys = [p[1] for _, points in cleaned for p in points if p]
    x_ticks = nice_ticks(min(xs, default=0.0), max(xs, default=1.0))
    y_ticks = (
        [0, 0.25, 0.5, 0.75, 1.0] if percent_y else nice_ticks(min(ys + [0.0]), max(ys + [1e-9]))
    )
    y_labels = [_format(t, percent_y, 0) if percent_y else f"{t:g}" for t in y_ticks]
    canvas.text(_PAD, top + LABEL_SIZE * 0.8, y_label, LABEL_SIZE, cls="axis-label")
    top += LABEL_SIZE * 1.05 + _PAD
    axis_x = _PAD + max(text_width(t, TICK_SIZE) for t in y_labels) + _PAD
    plot_w, plot_h = 420.0, 200.0
    plot_top = top + TICK_SIZE / 2
    bottom = plot_top + plot_h
    x_lo, x_hi, y_lo, y_hi = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return axis_x + plot_w * (x - x_lo) / ((x_hi - x_lo) or 1)

    def py(y: float) -> float:
        return bottom - plot_h * (y - y_lo) / ((y_hi - y_lo) or 1)

    for tick, label in zip(y_ticks, y_labels, strict=True):
        canvas.shape(_line(axis_x, py(tick), axis_x + plot_w, py(tick), "grid"), axis_x + plot_w, 0)
        canvas.text(axis_x - _PAD, py(tick) + TICK_SIZE * 0.35, label, TICK_SIZE, "end", "tick")
    last_right = -math.inf
    for tick in x_ticks:
        label = f"{tick:g}"
        box = text_box(px(tick), bottom + _PAD + TICK_SIZE * 0.8, label, TICK_SIZE, "middle")
        if box.x >= last_right + _PAD:  # skip a tick label that would touch the previous one
            canvas.text(
                px(tick), bottom + _PAD + TICK_SIZE * 0.8, label, TICK_SIZE, "middle", "tick"
            )
            last_right = box.x + box.w
    canvas.shape(_line(axis_x, bottom, axis_x + plot_w, bottom, "axis"), axis_x + plot_w, bottom)
    for s, (name, points) in enumerate(cleaned):
        colour = PALETTE[s % len(PALETTE)]
        for run in _runs(points):
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            canvas.shape(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
                f"<title>{escape(name)}</title></polyline>",
                axis_x + plot_w,
                bottom,
            )
        # every value readable on hover: all points when few (drawn), about 60 evenly spaced
        # invisible targets when many (a dot per step of a long training run is a smear)
        present = [p for p in points if p]
        shown = present if len(present) <= 60 else present[:: math.ceil(len(present) / 60)]
        visible = markers and len(present) <= 60
        opacity = "" if visible else ' fill-opacity="0"'
        for x, y in shown:
            value = _format(y, percent_y, 1)
            canvas.shape(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{3 if visible else 5}" '
                f'fill="{colour}"{opacity}><title>'
                f"{escape(name)}: {escape(x_label)} {_format(x, False)}, {escape(y_label)} "
                f"{value}</title></circle>",
                px(x) + 5,
                py(y) + 5,
            )
    below = bottom + _PAD + TICK_SIZE * 1.05 + _PAD
    _caption_and_legend(canvas, x_label, axis_x, plot_w, below, [name for name, _, _ in series])
    return canvas.svg(title)


def _finite(x: float, y: float | None) -> tuple[float, float] | None:
    if y is None or x is None or not (math.isfinite(x) and math.isfinite(y)):
        return None
    return float(x), float(y)


def _runs(points: list[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """The unbroken stretches of a line (None breaks it)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for point in points:
        if point is None:
            runs.append([])
        else:
            runs[-1].append(point)
    return [run for run in runs if run]


def _sequential(share: float) -> str:
    share = min(max(share, 0.0), 1.0) * (len(_SEQUENTIAL) - 1)
    i = min(int(share), len(_SEQUENTIAL) - 2)
    t = share - i
    a, b = _SEQUENTIAL[i], _SEQUENTIAL[i + 1]
    mixed = [round(int(a[k : k + 2], 16) * (1 - t) + int(b[k : k + 2], 16) * t) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    value_label: str,
    row_title: str = "",
    column_title: str = "",
    low: float | None = None,
    high: float | None = None,
    percent: bool = False,
) -> str:
    """A grid of cells coloured by value (layers × modules; a grid of two settings), with the
    value on hover, what the rows and columns are, and a colour key (grey: no value)."""
    canvas = Canvas()
    top = _title(canvas, title)
    if row_title or column_title:
        axes = f"rows: {row_title}" * bool(row_title) + " · " * bool(row_title and column_title)
        axes += f"columns: {column_title}" * bool(column_title)
        canvas.text(_PAD, top + LABEL_SIZE * 0.8, axes, LABEL_SIZE, cls="axis-label")
        top += LABEL_SIZE * 1.05 + _PAD
    flat = [v for row in values for v in row if v is not None and math.isfinite(v)]
    low = min(flat, default=0.0) if low is None else low
    high = max(flat, default=1.0) if high is None else high
    span = (high - low) or 1.0
    left = _PAD + max((text_width(r, LABEL_SIZE) for r in rows), default=0) + _PAD
    cell = max(22.0, max((text_width(c, TICK_SIZE) for c in columns), default=0) + _PAD)
    for j, column in enumerate(columns):
        canvas.text(left + (j + 0.5) * cell, top + TICK_SIZE * 0.8, column, TICK_SIZE, "middle",
                    "tick")  # fmt: skip
    grid_top = top + TICK_SIZE * 1.05 + _PAD
    for i, row in enumerate(rows):
        y = grid_top + i * 20
        canvas.text(left - _PAD, y + 14, row, LABEL_SIZE, "end")
        for j, column in enumerate(columns):
            value = values[i][j]
            colour = NEUTRAL if value is None else _sequential((value - low) / span)
            shown = "–" if value is None else _format(value, percent, 2)
            canvas.shape(
                _rect(left + j * cell, y, cell - 1, 19, colour, f"{row} × {column}: {shown}"),
                left + (j + 1) * cell,
                y + 20,
            )
    y = grid_top + 20 * len(rows) + 2 * _PAD
    # the colour key: low ... high, with the value's name
    key_w = 120.0
    for k in range(24):
        value = _format(low + span * k / 23, percent, 2)
        canvas.shape(
            _rect(left + k * key_w / 24, y, key_w / 24 + 0.5, 10, _sequential(k / 23), value), 0, 0
        )
    canvas.extend(left + key_w, y + 10)
    label_y = y + 10 + _PAD + TICK_SIZE * 0.8
    canvas.text(left, label_y, _format(low, percent, 2), TICK_SIZE, "start", "tick")
    canvas.text(left + key_w, label_y, _format(high, percent, 2), TICK_SIZE, "end", "tick")
    label = canvas.text(left + key_w + 2 * _PAD, y + 9.5, value_label, LABEL_SIZE, cls="axis-label")
    if any(v is None for row in values for v in row):
        x = label.x + label.w + 3 * _PAD
        canvas.shape(_rect(x, y, 10, 10, NEUTRAL, "no value"), x + 10, y + 10)
        canvas.text(x + 14, y + 9.5, "no value", LABEL_SIZE, cls="legend")
    return canvas.svg(title)


def stacked_bars(
    title: str,
    categories: Sequence[str],
    parts: Sequence[tuple[str, str]],
    shares: Sequence[dict[str, float] | None],
    *,
    empty: str = "no text",
) -> str:
    """One horizontal 100% bar per category, split into ``parts`` ((key, name) pairs) — the
    languages a chain of thought is written in; the parts of a gap."""
    canvas = Canvas()
    top = _title(canvas, title)
    left = _PAD + max((text_width(c, LABEL_SIZE) for c in categories), default=0) + _PAD
    span, row = 320.0, 22.0
    colours = {key: PALETTE[i % len(PALETTE)] for i, (key, _) in enumerate(parts)}
    for i, (category, share) in enumerate(zip(categories, shares, strict=True)):
        y = top + i * row
        canvas.text(left - _PAD, y + 15, category, LABEL_SIZE, "end")
        if not share:
            canvas.text(left, y + 15, empty, LABEL_SIZE, cls="value")
            continue
        total = sum(max(share.get(key, 0.0), 0.0) for key, _ in parts) or 1.0
        x = left
        for key, name in parts:
            w = span * max(share.get(key, 0.0), 0.0) / total  # never more than the whole bar
            if w > 0:
                hover = f"{category}, {name}: {_format(share.get(key, 0.0), True)}"
                canvas.shape(_rect(x, y + 3, w, row - 6, colours[key], hover), x + w, y + row)
            x += w
        canvas.extend(left + span, y + row)
    y = top + len(categories) * row + _PAD
    _legend(canvas, [(name, colours[key]) for key, name in parts], left, y, span)
    return canvas.svg(title)


def diverging_bars(
    title: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    *,
    unit: str = "pts",
) -> str:
    """Horizontal bars left (negative) or right (positive) of zero, the value just beyond each
    bar's end (the gap to English in points). Room for the values is kept on both sides of the
    bars, so even the longest bar's value never covers the category labels; a missing value
    reads "–" at zero."""
    canvas = Canvas()
    top = _title(canvas, title)
    shown = ["–" if v is None else f"{v:+.1f}" for v in values]
    gutter = max((text_width(s, TICK_SIZE) for s in shown), default=0) + _PAD
    left = _PAD + max((text_width(c, LABEL_SIZE) for c in categories), default=0) + _PAD
    has_negative = any(v is not None and v < 0 for v in values)
    has_positive = any(v is not None and v > 0 for v in values)
    half = 170.0
    limit = max([abs(v) for v in values if v is not None] + [1e-9])
    left_span = half if has_negative else 0.0
    right_span = half if has_positive or not has_negative else 0.0
    zero = left + (gutter if has_negative else 0) + left_span
    right_span = right_span or gutter  # "–" for a missing value sits right of zero
    row = 22.0
    for i, (category, value, text) in enumerate(zip(categories, values, shown, strict=True)):
        y = top + i * row
        canvas.text(left - _PAD, y + 15, category, LABEL_SIZE, "end")
        if value is None:
            canvas.text(zero + _PAD / 2, y + 15, text, TICK_SIZE, "start", "value",
                        hover=f"{category}: no value")  # fmt: skip
            continue
        w = (left_span if value < 0 else right_span) * abs(value) / limit
        x = zero - w if value < 0 else zero
        colour = BAD if value < 0 else GOOD
        canvas.shape(
            _rect(x, y + 3, w, row - 6, colour, f"{category}: {text} {unit}"), x + w, y + row
        )
        if value < 0:
            canvas.text(x - _PAD / 2, y + 15, text, TICK_SIZE, "end", "value")
        else:
            canvas.text(x + w + _PAD / 2, y + 15, text, TICK_SIZE, "start", "value")
    bottom = top + row * len(categories)
    canvas.shape(_line(zero, top, zero, bottom, "axis"), zero, bottom)
    canvas.extend(zero + right_span + gutter, bottom)
    canvas.text(zero, bottom + _PAD + LABEL_SIZE * 0.8, f"{unit} (0 at the line)", LABEL_SIZE,
                "middle" if has_negative and right_span else "start", "axis-label")  # fmt: skip
    return canvas.svg(title)
