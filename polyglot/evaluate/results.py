"""From per-item records to ``results.json``: per-language accuracy, gaps, consistency, fidelity.

The schema (``SCHEMA``) is stable: tools may read ``languages.<code>.accuracy`` etc. Every
number is recomputed from ``generations.jsonl`` by ``summarize``, so a report can always be
rebuilt from the records.
"""

from __future__ import annotations

from collections import Counter
from statistics import mean

from polyglot.evaluate.metrics import ACCURACY_INTERVAL, accuracy, consistency, gap_to_english

# /2: ci95 is a Wilson score interval (it was a percentile bootstrap, [0, 0] at 0%), and
# prompts cut to fit the model's context are counted
SCHEMA = "polyglot.eval.results/2"


def _round(value: float | None, digits: int = 4):
    if value is None or value != value:  # None or NaN
        return None
    return round(value, digits)


def summarize(records: list[dict], languages: list[str], ids: list[str]) -> dict:
    """Per-language metrics over ``records`` (keys ``lang/id``) for the parallel ``ids``."""
    by_key = {r["key"]: r for r in records}
    per_lang: dict[str, dict] = {}
    correct_by_lang: dict[str, list[bool]] = {}
    for lang in languages:
        rows = [by_key[f"{lang}/{i}"] for i in ids if f"{lang}/{i}" in by_key]
        correct = [bool(r["correct"]) for r in rows]
        correct_by_lang[lang] = correct
        acc = accuracy(correct)
        fid = [r["fidelity"] for r in rows if r.get("fidelity")]
        thought = [r["fidelity_thinking"] for r in rows if r.get("fidelity_thinking")]
        seconds = sum(r.get("seconds", 0.0) for r in rows)
        per_lang[lang] = {
            "n": len(rows),
            "correct": sum(correct),
            "accuracy": _round(acc.value),
            "ci95": [_round(acc.low), _round(acc.high)],
            "no_answer": sum(1 for r in rows if r.get("answer") is None),
            # why: empty output, no number, thinking did not finish, no answer after thinking
            "no_answer_reasons": dict(
                Counter(r.get("reason") or "no answer" for r in rows if r.get("answer") is None)
            ),
            "truncated_prompts": sum(1 for r in rows if r.get("truncated")),
            "rules": dict(Counter(r["rule"] for r in rows if r.get("rule"))),
            "fidelity": {
                key: _round(mean(f[key] for f in fid)) for key in ("target", "en", "other")
            }
            if fid
            else None,
            # reasoning models: the languages of the thinking, apart from the answer's
            "fidelity_thinking": {
                key: _round(mean(f[key] for f in thought)) for key in ("target", "en", "other")
            }
            if thought
            else None,
            # per generation: k samples of an item are k generations
            "mean_new_tokens": _round(mean(_per_generation(rows)), 1) if rows else None,
            "items_per_second": _round(len(rows) / seconds, 2) if seconds else None,
        }
    english = per_lang.get("en")
    others = [lang for lang in languages if lang != "en"]
    if english and english["n"]:
        for lang in others:
            row = per_lang[lang]
            if row["n"] == 0 or row["n"] != english["n"]:
                continue
            gap = gap_to_english(row["accuracy"], english["accuracy"])
            row["gap_points"] = _round(gap.points, 2)
            row["gap_ratio"] = _round(gap.ratio)
            c = consistency(correct_by_lang["en"], correct_by_lang[lang])
            row["consistency"] = {
                "both": _round(c.both),
                "english_only": _round(c.english_only),
                "language_only": _round(c.language_only),
                "neither": _round(c.neither),
            }
    summary = {
        "english_accuracy": english["accuracy"] if english else None,
        "mean_accuracy_non_english": _mean_of(per_lang, others, "accuracy"),
        "mean_gap_points": _mean_of(per_lang, others, "gap_points"),
        "mean_target_fidelity_non_english": _round(
            mean(
                per_lang[lang]["fidelity"]["target"]
                for lang in others
                if per_lang[lang]["fidelity"]
            )
        )
        if any(per_lang[lang]["fidelity"] for lang in others)
        else None,
        "items": sum(row["n"] for row in per_lang.values()),
        "no_answer": sum(row["no_answer"] for row in per_lang.values()),
        "truncated_prompts": sum(row["truncated_prompts"] for row in per_lang.values()),
    }
    return {
        "schema": SCHEMA,
        # how every interval was computed: accuracy per language, and run-vs-run differences
        "intervals": {"accuracy": f"{ACCURACY_INTERVAL} 95%", "differences": "paired bootstrap"},
        "summary": summary,
        "languages": per_lang,
    }


def _mean_of(per_lang: dict[str, dict], langs: list[str], key: str):
    values = [per_lang[lang][key] for lang in langs if per_lang[lang].get(key) is not None]
    return _round(mean(values), 4) if values else None


def _per_generation(rows: list[dict]) -> list[int]:
    """The new tokens of every generation (a record of k samples holds a list of k)."""
    counts: list[int] = []
    for r in rows:
        tokens = r.get("new_tokens", 0)
        counts.extend(tokens if isinstance(tokens, list) else [tokens or 0])
    return counts or [0]
