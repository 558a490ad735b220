"""Small self-contained SVG charts for the reports (no plotting library, no external files)."""

from __future__ import annotations

from html import escape

PALETTE = ["#3b6ea8", "#e07b39", "#5a9e4b", "#b04a7a", "#7a6bb0", "#8c8c3c"]
FIDELITY_COLOURS = {"target": "#3b6ea8", "en": "#e0a039", "other": "#b0b0b0"}


def _frame(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<text x="{width / 2}" y="16" text-anchor="middle" class="chart-title">{escape(title)}</text>'
        f"{body}</svg>"
    )


def grouped_bars(
    title: str,
    labels: list[str],
    series: list[tuple[str, list[float | None], list[tuple[float, float] | None] | None]],
    *,
    maximum: float = 1.0,
    percent: bool = True,
) -> str:
    """Vertical bars per label (one per series), with optional CI whiskers, 0..maximum."""
    groups, per_group = len(labels), max(1, len(series))
    bar = 14 if per_group > 1 else 22
    gap = 14
    left, top, plot_h = 44, 30, 180
    width = left + groups * (per_group * bar + gap) + 20
    height = top + plot_h + 46 + (16 * per_group if per_group > 1 else 0)
    parts = []
    for tick in range(0, 5):
        value = maximum * tick / 4
        y = top + plot_h - plot_h * tick / 4
        label = f"{value * 100:.0f}%" if percent else f"{value:g}"
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y}" y2="{y}" class="grid"/>'
            f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" class="tick">{label}</text>'
        )
    for g, label in enumerate(labels):
        x0 = left + 8 + g * (per_group * bar + gap)
        for s, (name, values, cis) in enumerate(series):
            value = values[g]
            x = x0 + s * bar
            colour = PALETTE[s % len(PALETTE)]
            if value is None:
                continue
            h = plot_h * min(max(value, 0.0), maximum) / maximum
            shown = f"{value * 100:.1f}%" if percent else f"{value:.3g}"
            parts.append(
                f'<rect x="{x}" y="{top + plot_h - h}" width="{bar - 2}" height="{h}" '
                f'fill="{colour}"><title>{escape(name)} {escape(label)}: {shown}</title></rect>'
            )
            ci = cis[g] if cis else None
            if ci and ci[0] is not None and ci[1] is not None:
                y_lo = top + plot_h - plot_h * ci[0] / maximum
                y_hi = top + plot_h - plot_h * ci[1] / maximum
                cx = x + (bar - 2) / 2
                parts.append(
                    f'<line x1="{cx}" x2="{cx}" y1="{y_lo}" y2="{y_hi}" class="whisker"/>'
                    f'<line x1="{cx - 3}" x2="{cx + 3}" y1="{y_hi}" y2="{y_hi}" class="whisker"/>'
                    f'<line x1="{cx - 3}" x2="{cx + 3}" y1="{y_lo}" y2="{y_lo}" class="whisker"/>'
                )
        centre = x0 + per_group * bar / 2
        parts.append(
            f'<text x="{centre}" y="{top + plot_h + 16}" text-anchor="middle" class="label">'
            f"{escape(label)}</text>"
        )
    if per_group > 1:
        for s, (name, _, _) in enumerate(series):
            y = top + plot_h + 34 + 16 * s
            parts.append(
                f'<rect x="{left}" y="{y - 9}" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>'
                f'<text x="{left + 14}" y="{y}" class="legend">{escape(name)}</text>'
            )
    return _frame(width, height, title, "".join(parts))


def diverging_bars(
    title: str, labels: list[str], values: list[float | None], unit: str = " pts"
) -> str:
    """Horizontal bars left or right of zero (e.g. the gap to English in points)."""
    left, top, row, half = 60, 30, 22, 160
    width, height = left + 2 * half + 60, top + row * len(labels) + 10
    limit = max([abs(v) for v in values if v is not None] + [1.0])
    zero = left + half
    parts = [f'<line x1="{zero}" x2="{zero}" y1="{top - 4}" y2="{height - 6}" class="axis"/>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" class="label">{escape(label)}</text>'
        )
        if value is None:
            continue
        w = half * abs(value) / limit
        x = zero if value >= 0 else zero - w
        colour = "#5a9e4b" if value >= 0 else "#c0504d"
        parts.append(
            f'<rect x="{x}" y="{y + 3}" width="{w}" height="{row - 6}" fill="{colour}">'
            f"<title>{escape(label)}: {value:+.1f}{unit}</title></rect>"
            f'<text x="{x + w + 4 if value >= 0 else x - 4}" y="{y + 15}" '
            f'text-anchor="{"start" if value >= 0 else "end"}" class="value">{value:+.1f}</text>'
        )
    return _frame(width, height, title, "".join(parts))


def stacked_shares(title: str, labels: list[str], shares: list[dict[str, float] | None]) -> str:
    """One horizontal 100% bar per label, split into target language / English / other."""
    left, top, row, span = 60, 30, 22, 320
    width, height = left + span + 30, top + row * len(labels) + 30
    parts = []
    for i, (label, share) in enumerate(zip(labels, shares, strict=True)):
        y = top + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" class="label">{escape(label)}</text>'
        )
        if not share:
            parts.append(f'<text x="{left}" y="{y + 14}" class="value">no text</text>')
            continue
        x = left
        for key in ("target", "en", "other"):
            w = span * share.get(key, 0.0)
            if w > 0:
                parts.append(
                    f'<rect x="{x}" y="{y + 3}" width="{w}" height="{row - 6}" '
                    f'fill="{FIDELITY_COLOURS[key]}"><title>{escape(label)} {key}: '
                    f"{share[key] * 100:.1f}%</title></rect>"
                )
            x += w
    y = height - 10
    for k, key in enumerate(("target", "en", "other")):
        name = {"target": "question's language", "en": "English", "other": "other"}[key]
        parts.append(
            f'<rect x="{left + 120 * k}" y="{y - 9}" width="10" height="10" fill="{FIDELITY_COLOURS[key]}"/>'
            f'<text x="{left + 120 * k + 14}" y="{y}" class="legend">{name}</text>'
        )
    return _frame(width, height, title, "".join(parts))
