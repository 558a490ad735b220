"""Every page from the one report layer: autoescaped, right-to-left samples, key/value tables
with the JSON one click away, fonts for every pack's script, and Markdown beside the HTML."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from polyglot.evaluate.results import summarize
from polyglot.report import comparison_page, eval_run_page, quickstart_page

LANGS = ["en", "ar", "th"]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _records() -> list[dict]:
    records = []
    for lang in LANGS:
        for i in range(4):
            correct = lang == "en" and i < 3
            records.append(
                {
                    "key": f"{lang}/{i}",
                    "id": str(i),
                    "lang": lang,
                    "gold": 18.0,
                    "prompt": f"سؤال: {i}?" if lang == "ar" else f"Question {i} <b>bold</b>?",
                    "output": "18" if correct else "<script>alert(1)</script> no idea",
                    "answer": 18.0 if correct else None,
                    "rule": "last_number" if correct else None,
                    "correct": correct,
                    "fidelity": {"target": 1.0, "en": 1.0, "other": 0.0} if lang == "en" else None,
                    "new_tokens": 5,
                    "truncated": 1 if lang == "th" else 0,
                }
            )
    return records


def _results(records: list[dict]) -> dict:
    results = summarize(records, LANGS, [str(i) for i in range(4)])
    results["run"] = {
        "name": "run-a",
        "config": {
            "mode": "native-cot",
            "shots": 0,
            "temperature": 0.0,
            "top_p": 1.0,
            "samples": 1,
            "languages": LANGS,
            "columns": None,
        },  # fmt: skip
        "model": {
            "model": "tiny",
            "backend": "hf",
            "device": "cpu",
            "dtype": "float32",
            "fingerprint": "abc",
        },  # fmt: skip
        "benchmark": {"name": "mgsm", "languages": LANGS, "items": 4, "ids": ["0", "1"]},
        "dataset_hash": "d1",
        "versions": {"python": "3.11"},
        "finished": "now",
    }
    return results


def test_an_eval_run_page():
    records = _records()
    html, markdown = eval_run_page(_results(records), records, ["th: 4 of 4 prompts were cut"])
    parser = _Tags()
    parser.feed(html)
    tags = [t for t, _ in parser.tags]
    assert "script" not in tags and "&lt;script&gt;" in html  # outputs are escaped, never run
    assert tags.count("svg") == 3
    samples = [a for t, a in parser.tags if t == "pre" and a.get("lang") == "ar"]
    assert samples and all(a["dir"] == "rtl" for a in samples)
    assert all(a["dir"] == "ltr" for t, a in parser.tags if t == "pre" and a.get("lang") == "th")
    assert ("table", {"class": "kv"}) in parser.tags and "config as JSON" in html
    for font in ("Noto Sans CJK KR", "Noto Sans Thai", "Noto Sans Bengali", "Noto Sans Devanagari",
                 "Noto Sans Telugu", "Noto Sans Arabic", "Hiragino Sans"):  # fmt: skip
        assert font in html
    assert "th: 4 of 4 prompts were cut" in html and "th: 4 of 4 prompts were cut" in markdown
    assert "| en | 4 | 75.0 |" in markdown and "Wilson" in markdown


def test_a_comparison_and_the_quickstart_page(tmp_path):
    records = _records()
    results = _results(records)
    comparison = {
        "runs": {"a": "runs/a", "b": "runs/b"},
        "identities": {"a": {"fingerprint": "abc"}, "b": {"fingerprint": "def"}},
        "accuracy": {lang: {"a": 0.5, "b": 0.25} for lang in LANGS},
        "fidelity": {lang: {"a": None, "b": None} for lang in LANGS},
        "paired": [
            {
                "run": "b",
                "lang": "en",
                "n": 4,
                "baseline_accuracy": 0.5,
                "run_accuracy": 0.25,
                "difference_points": -25.0,
                "mcnemar_p": 0.5,
                "bootstrap_p": 0.4,
            }
        ],  # fmt: skip
    }
    html, markdown = comparison_page(comparison)
    assert html.count("<svg") == 3 and "a.fingerprint" in html and "| b | en | 4 |" in markdown
    summary = {
        "languages": LANGS,
        "testbed": "runs/testbed",
        "size": "tiny",
        "foundation": {"packs": 20},
        "testbed_build": {"base": {"steps": 30, "fingerprint": "f"}},
        "seconds": {"testbed": 1.5},
        "stages": [
            {
                "model": "base model",
                "benchmark": "testbed",
                "run": str(tmp_path / "r"),
                "english": 0.75,
                "others": 0.0,
                "gap_points": -75.0,
                "fidelity": None,
                "per_language": {"en": 0.75},
            }
        ],  # fmt: skip
    }
    html, markdown = quickstart_page(summary, results, Path(tmp_path))
    assert 'href="r/report.html"' in html and "base.steps" in html
    assert "| base model | testbed | 75.0% |" in markdown
