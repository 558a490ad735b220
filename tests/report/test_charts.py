"""Chart geometry without a browser: every text inside the drawing, no two texts overlapping,
for 1, 6 and 20 languages, long labels, and values at 0% and 100%."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from polyglot.report.charts import (
    Series,
    diverging_bars,
    grouped_bars,
    heatmap,
    line_chart,
    stacked_bars,
    text_box,
)

SVG = "{http://www.w3.org/2000/svg}"
CODES = ["en", "de", "sw", "ko", "th", "bn", "ar", "ur", "hi", "te", "ja", "zh", "ru", "fr",
         "es", "pt", "it", "id", "ms", "vi"]  # fmt: skip
LONG = ["English (en)", "Kiswahili (sw)", "한국어 (ko)", "ภาษาไทย (th)", "বাংলা (bn)",
        "العربية (ar)", "Bahasa Melayu, Malaysia (ms)"]  # fmt: skip


def _languages(n: int, long: bool) -> list[str]:
    return (LONG * 3)[:n] if long else CODES[:n]


def _values(n: int) -> list[float]:
    # the edges first: 100% and 0% (and None for a missing value when there are enough)
    return [[1.0, 0.0, 0.5, 0.955, 0.005][i % 5] for i in range(n)]


def _charts(n: int, long: bool) -> dict[str, str]:
    langs = _languages(n, long)
    values = _values(n)
    cis = [(max(0.0, v - 0.05), min(1.0, v + 0.05)) for v in values]
    shares = [{"target": v, "en": 1 - v, "other": 0.0} for v in values]
    return {
        "grouped bars, one series": grouped_bars(
            "accuracy per language (95% Wilson CI)", langs, [Series("base", values, cis)]
        ),
        "grouped bars, before/after": grouped_bars(
            "before and after fine-tuning, a title long enough to be wider than one bar",
            langs,
            [Series("base model", values, cis), Series("after mixed-CoT SFT", values[::-1], cis)],
        ),
        "line chart": line_chart(
            "training loss",
            [("loss", list(range(0, 10 * n + 1, 10)), [5.0 / (1 + k) for k in range(n + 1)])],
            x_label="step",
            y_label="loss",
        ),
        "line chart, 2000 points with gaps": line_chart(
            "a long training run that diverged",
            [
                (
                    "loss",
                    list(range(2000)),
                    [
                        None if k == 700 else float("nan") if k > 1990 else 3000 / (1 + k)
                        for k in range(2000)
                    ],
                )
            ],
            x_label="step",
            y_label="loss",
        ),  # fmt: skip
        "line chart, two series, percent": line_chart(
            "accuracy against the share of items translated",
            [(lang, [0, 0.25, 0.5, 1.0], [0.0, 0.3, 0.8, 1.0]) for lang in langs[:6]],
            x_label="share translated",
            y_label="accuracy",
            percent_y=True,
        ),
        "heatmap": heatmap(
            "relative change per layer and module",
            [f"layer {i}" for i in range(max(n, 2))],
            ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            [
                [None if (i, j) == (0, 0) else (i * 7 + j) * 40.5 for j in range(7)]
                for i in range(max(n, 2))
            ],  # fmt: skip
            value_label="relative change",
            row_title="layer",
            column_title="module",
        ),
        "stacked bars": stacked_bars(
            "language of the chain of thought",
            langs,
            [("target", "question's language"), ("en", "English"), ("other", "other")],
            shares,
        ),
        "diverging bars": diverging_bars(
            "gap to English (points)", langs, [-100 * (1 - v) for v in values]
        ),
        "diverging bars, both signs": diverging_bars(
            "change (points)", langs, [(-1) ** i * 100 * v for i, v in enumerate(values)]
        ),
        "diverging bars, a missing value": diverging_bars(
            "gap", langs, [None if i == 0 else -50.0 for i in range(n)]
        ),
        "grouped bars, a missing value": grouped_bars(
            "two runs, one language missing in the second",
            langs,
            [Series("a", values), Series("b", [None] + values[1:])],
        ),
    }


def _text_boxes(svg: str):
    root = ET.fromstring(svg)
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    boxes = []
    for element in root.iter(f"{SVG}text"):
        text = (element.text or "") + "".join(child.tail or "" for child in element)
        box = text_box(
            float(element.get("x")),
            float(element.get("y")),
            text,
            float(element.get("font-size")),
            element.get("text-anchor", "start"),
        )
        boxes.append((text, box))
    return width, height, boxes


@pytest.mark.parametrize("long", [False, True], ids=["codes", "long labels"])
@pytest.mark.parametrize("n", [1, 6, 20])
def test_every_text_is_inside_the_drawing_and_none_overlap(n, long):
    for name, svg in _charts(n, long).items():
        width, height, boxes = _text_boxes(svg)
        assert boxes, name
        for text, box in boxes:
            assert box.x >= 0 and box.y >= 0, (name, text, box)
            assert box.x + box.w <= width and box.y + box.h <= height, (name, text, box, width)
        for i, (text, box) in enumerate(boxes):
            for other, other_box in boxes[i + 1 :]:
                assert not box.overlaps(other_box), (name, text, other)


def test_every_mark_has_a_hover_title_and_there_are_no_scripts():
    for name, svg in _charts(6, False).items():
        root = ET.fromstring(svg)
        assert not list(root.iter(f"{SVG}script")), name
        for tag in ("rect", "circle", "polyline"):
            for mark in root.iter(f"{SVG}{tag}"):
                assert mark.find(f"{SVG}title") is not None, (name, tag)


def test_a_stacked_bar_is_never_longer_than_the_whole():
    """English CoT in an English question counts once (the notes saw a 200% English row)."""
    svg = stacked_bars("shares", ["en"], [("target", "lang"), ("en", "English")], [
        {"target": 1.0, "en": 1.0}])  # fmt: skip
    widths = [float(r.get("width")) for r in ET.fromstring(svg).iter(f"{SVG}rect")]
    assert sum(widths[:2]) <= 320.5


def test_error_bars_and_the_zero_row_are_drawn():
    svg = grouped_bars("acc", ["de"], [Series("base", [0.0], [(0.0, 0.0188)])])
    lines = [e for e in ET.fromstring(svg).iter(f"{SVG}line") if e.get("class") == "whisker"]
    assert len(lines) == 3  # the upper bound of 0/200 is visible above a zero bar
    assert float(lines[0].get("y1")) > float(lines[0].get("y2"))


def test_too_many_or_too_long_labels_turn_the_bars_horizontal():
    svg = grouped_bars("acc", _languages(20, True), [Series("base", _values(20))])
    width = float(ET.fromstring(svg).get("width"))
    assert width <= 1100  # readable on a page, not shrunk to 3 px text
    labels = [e for e in ET.fromstring(svg).iter(f"{SVG}text") if e.get("text-anchor") == "end"]
    assert len({float(e.get("x")) for e in labels if e.get("class") == "label"}) == 1  # one column


def test_a_long_line_is_one_path_per_unbroken_stretch_with_thinned_hover_targets():
    svg = line_chart(
        "loss",
        [("loss", list(range(2000)), [None if k == 700 else 1.0 / (1 + k) for k in range(2000)])],
        x_label="step",
        y_label="loss",
    )
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{SVG}polyline"))) == 2  # split at the missing point
    circles = list(root.iter(f"{SVG}circle"))
    assert 30 <= len(circles) <= 61 and all(c.get("fill-opacity") == "0" for c in circles)
    assert "nan" not in svg and "e+" not in svg


def test_plain_numbers_never_in_scientific_notation():
    from polyglot.report.charts import _format

    assert _format(130.0, False) == "130" and _format(1234.0, False) == "1,234"
    assert _format(5.53, False) == "5.53" and _format(0.0042, False) == "0.0042"
