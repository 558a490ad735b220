"""Extract the final numeric answer from a model's output, in any language and script.

Rules, in order (the first that yields a number wins):
  1. ``cue``: the language pack's localized final-answer cue ("উত্তর হল ১৮।", "答えは18です");
  2. ``boxed``: the last ``\\boxed{...}``;
  3. ``english_cue``: English cues ("The answer is", "answer:", "####"), since models often
     fall back to English at the end;
  4. ``last_number``: the last number in the output.
Numbers are read with the pack's number format (see ``numbers.py``) and compared numerically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from polyglot.packs import ANSWER_SLOT, LanguagePack, load_pack
from polyglot.text.numbers import find_numbers, normalize_text, numbers_equal, parse_number

RULES = ("cue", "boxed", "english_cue", "last_number")
# How far after a cue the number may start ("The answer is: $ 18", "Ответ — 11").
_CUE_GAP = r"[^\d\n]{0,16}?"
_ENGLISH_CUES = [
    r"####",
    r"(?:the\s+)?(?:final\s+)?answer\s*(?:is|:|=|would\s+be|will\s+be)",
    r"answer\s*\*\*\s*:?",
]


@dataclass(frozen=True)
class Answer:
    """What ``extract_answer`` found: a value and the rule that matched, or a reason for none."""

    value: float | None
    rule: str | None = None
    span: str | None = None
    reason: str | None = None

    @property
    def found(self) -> bool:
        return self.value is not None

    def display_value(self) -> str:
        if self.value is None:
            return "no answer"
        return str(int(self.value)) if float(self.value).is_integer() else repr(self.value)


def _cue_regex(cue: str) -> str:
    prefix = normalize_text(cue.split(ANSWER_SLOT)[0]).strip()
    words = [re.escape(word) for word in prefix.split()]
    return r"\s*".join(words)


def _cue_pattern(pack: LanguagePack) -> re.Pattern[str]:
    return _compile_cues(tuple(pack.answer_cues))


@cache
def _compile_cues(answer_cues: tuple[str, ...]) -> re.Pattern[str]:
    cues = sorted(
        {_cue_regex(cue) for cue in answer_cues if _cue_regex(cue)}, key=len, reverse=True
    )
    return re.compile(rf"(?:{'|'.join(cues)}){_CUE_GAP}(?=[-\u2212]?\d)", re.IGNORECASE)


@cache
def _english_pattern() -> re.Pattern[str]:
    english = load_pack("en")
    cues = [_cue_regex(cue) for cue in english.answer_cues] + _ENGLISH_CUES
    return re.compile(rf"(?:{'|'.join(cues)}){_CUE_GAP}(?=[-\u2212]?\d)", re.IGNORECASE)


_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}")
_FRAC = re.compile(r"\\d?frac\{([^{}]+)\}\{([^{}]+)\}")
_LATEX_NOISE = re.compile(r"\\text\{[^{}]*\}|\\[,!;: ]|\\\$|\{,\}|\\%|\\mathrm\{[^{}]*\}")


def _number_after_last_cue(
    text: str, pattern: re.Pattern[str], pack: LanguagePack | None
) -> tuple[float, str] | None:
    """The number right after the last match of ``pattern``, and the cue-to-number span."""
    for match in reversed(list(pattern.finditer(text))):
        tokens = find_numbers(text[match.end() :], pack.numbers if pack else None)
        if tokens and tokens[0].start == 0 and tokens[0].value is not None:
            return tokens[0].value, text[match.start() : match.end() + tokens[0].end]
    return None


def _boxed_value(text: str, pack: LanguagePack | None) -> tuple[float, str] | None:
    for match in reversed(list(_BOXED.finditer(text))):
        inner = _LATEX_NOISE.sub("", match.group(1))
        frac = _FRAC.search(inner)
        if frac:
            numerator = find_numbers(frac.group(1))
            denominator = find_numbers(frac.group(2))
            if numerator and denominator and denominator[0].value:
                return numerator[0].value / denominator[0].value, match.group(0)
        tokens = [
            t for t in find_numbers(inner, pack.numbers if pack else None) if t.value is not None
        ]
        if tokens:
            return tokens[0].value, match.group(0)
    return None


def extract_answer(output: str | None, lang: str | LanguagePack = "en") -> Answer:
    """The final numeric answer in ``output``, read as language ``lang`` writes numbers."""
    pack = load_pack(lang) if isinstance(lang, str) else lang
    if output is None or not str(output).strip():
        return Answer(None, reason="empty output")
    text = normalize_text(str(output))

    found = _number_after_last_cue(text, _cue_pattern(pack), pack)
    if found:
        return Answer(found[0], "cue", found[1])
    boxed = _boxed_value(text, pack)
    if boxed:
        return Answer(boxed[0], "boxed", boxed[1])
    found = _number_after_last_cue(text, _english_pattern(), pack)
    if found:
        return Answer(found[0], "english_cue", found[1])
    tokens = [t for t in find_numbers(text, pack.numbers) if t.value is not None]
    if tokens:
        return Answer(tokens[-1].value, "last_number", tokens[-1].text)
    return Answer(None, reason="no number in output")


def parse_gold(answer: str | int | float, lang: str | LanguagePack = "en") -> float:
    """A benchmark's gold answer as a number ("2,125" is 2125 in MGSM's English format)."""
    if isinstance(answer, int | float):
        return float(answer)
    pack = load_pack(lang) if isinstance(lang, str) else lang
    return parse_number(str(answer), pack.numbers)


def is_correct(answer: Answer, gold: float) -> bool:
    return answer.found and numbers_equal(answer.value, gold)
