"""Score one generation: extract the answer, compare with gold, measure the CoT's languages."""

from __future__ import annotations

from collections import Counter

from polyglot.detect.language_id import language_shares
from polyglot.text.answers import extract_answer
from polyglot.text.numbers import numbers_equal


def fidelity(output: str, lang: str) -> dict[str, float] | None:
    """Share of the output's letters in the question's language, in English, and in others.

    None when the output has no letters (e.g. a bare number). For English questions the
    ``target`` and ``en`` shares are the same text. Sentences too short for fastText to tell
    apart among all languages are classified as the question's language or English.
    """
    shares = language_shares(output, short_candidates=sorted({lang, "en"}))
    if not shares:
        return None
    target = shares.get(lang, 0.0)
    english = shares.get("en", 0.0)
    other = max(0.0, 1.0 - target - (english if lang != "en" else 0.0))
    return {"target": round(target, 4), "en": round(english, 4), "other": round(other, 4)}


def _clean(output) -> str:
    if not isinstance(output, str):  # a NaN or None from a broken backend: a counted no-answer
        return ""
    return output


def score_outputs(outputs: list[str], lang: str, gold: float) -> dict:
    """The record fields for one item's outputs (majority vote when there are several)."""
    outputs = [_clean(o) for o in outputs]
    answers = [extract_answer(o, lang) for o in outputs]
    values = [a.value for a in answers if a.found]
    chosen = 0
    if len(outputs) > 1 and values:
        # self-consistency: the most frequent answer; ties go to the earliest sample
        counts = Counter(values)
        best = max(counts.values())
        winner = next(v for v in values if counts[v] == best)
        chosen = next(i for i, a in enumerate(answers) if a.value == winner)
    answer = answers[chosen]
    value = answer.value
    record = {
        "output": outputs[chosen],
        "answer": value,
        "rule": answer.rule,
        "reason": answer.reason if value is None else None,
        "correct": value is not None and numbers_equal(value, gold),
        "fidelity": fidelity(outputs[chosen], lang),
    }
    if len(outputs) > 1:
        record["samples"] = [
            {"output": o, "answer": a.value} for o, a in zip(outputs, answers, strict=True)
        ]
        record["agreement"] = (max(Counter(values).values()) / len(outputs)) if values else 0.0
    return record
