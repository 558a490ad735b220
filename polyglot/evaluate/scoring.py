"""Score one generation: extract the answer, compare with gold, measure the CoT's languages."""

from __future__ import annotations

from collections import Counter

from polyglot.detect.language_id import language_shares
from polyglot.text.answers import Answer, extract_answer
from polyglot.text.numbers import numbers_equal
from polyglot.text.thinking import split_thinking


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


THINKING_UNFINISHED = "thinking did not finish"
EMPTY_AFTER_THINKING = "no answer after thinking"


def read_answer(output: str, lang: str, tags: tuple[str, str] | None, opened: bool = False):
    """The answer of one output and its thinking split. The answer is read after the thinking
    block only: when there is none, the reason is "no answer after thinking" (or the block
    never finished), and what the thinking itself concluded is reported apart
    (``answer_in_thinking`` with its rule ``thinking_<rule>``), never scored."""
    if tags is None:
        return extract_answer(output, lang), None
    split = split_thinking(output, tags, opened=opened)
    if not split.finished:
        return Answer(None, reason=THINKING_UNFINISHED), split
    answer = extract_answer(split.answer, lang)
    if answer.found or split.thinking is None:
        return answer, split
    return Answer(None, reason=EMPTY_AFTER_THINKING), split


def answer_in_thinking(split, lang: str) -> dict | None:
    """What the thinking concluded, for the record only (never scored)."""
    if split is None or not split.thinking:
        return None
    inside = extract_answer(split.thinking, lang)
    return {"value": inside.value, "rule": f"thinking_{inside.rule}"} if inside.found else None


def score_outputs(
    outputs: list[str],
    lang: str,
    gold: float,
    thinking: tuple[str, str] | None = None,
    opened: bool = False,
) -> dict:
    """The record fields for one item's outputs (majority vote when there are several).
    ``thinking``: the (open, close) tags of a reasoning model's thinking block, if any."""
    outputs = [_clean(o) for o in outputs]
    read = [read_answer(o, lang, thinking, opened) for o in outputs]
    answers = [a for a, _ in read]
    values = [a.value for a in answers if a.found]
    chosen = 0
    if len(outputs) > 1 and values:
        # self-consistency: the most frequent answer; ties go to the earliest sample
        counts = Counter(values)
        best = max(counts.values())
        winner = next(v for v in values if counts[v] == best)
        chosen = next(i for i, a in enumerate(answers) if a.value == winner)
    answer, split = read[chosen]
    value = answer.value
    record = {
        "output": outputs[chosen],
        "answer": value,
        "rule": answer.rule,
        "reason": answer.reason if value is None else None,
        "correct": value is not None and numbers_equal(value, gold),
        # the CoT's languages; for a reasoning model, of the answer and the thinking apart
        "fidelity": fidelity(split.answer if split else outputs[chosen], lang),
    }
    if split is not None:
        record["fidelity_thinking"] = fidelity(split.thinking, lang) if split.thinking else None
        record["thinking_finished"] = split.finished
        if value is None:
            record["answer_in_thinking"] = answer_in_thinking(split, lang)
    if len(outputs) > 1:
        record["samples"] = [
            {"output": o, "answer": a.value} for o, a in zip(outputs, answers, strict=True)
        ]
        record["agreement"] = (max(Counter(values).values()) / len(outputs)) if values else 0.0
    return record
