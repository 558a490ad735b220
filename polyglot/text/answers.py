"""Extract the final numeric answer from a model's output, in any language and script.

Rules, in order (the first that yields a number wins):
  1. ``cue``: the language pack's localized final-answer cue ("উত্তর হল ১৮।", "答えは18です");
     after a cue, a fraction (``3/4``, ``1 1/2``, ``\\frac{3}{4}``) is read whole, and a numeral
     written as words ("twenty-five", "二十五") is read with the pack's converter (``cue_words``);
  2. ``boxed``: the last ``\\boxed{...}`` (fractions included);
  3. ``english_cue``: English cues ("The answer is", "answer:", "####"), since models often
     fall back to English at the end (``english_cue_words`` for English number words);
  4. ``last_number``: the last number in the output that is not part of a fraction or a date
     ("3/4 of the cake" is not an answer unless a rule points at it).
Numbers are read with the pack's number format (see ``numbers.py``) and compared numerically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from polyglot.packs import ANSWER_SLOT, LanguagePack, load_pack
from polyglot.text.numbers import find_numbers, normalize_text, numbers_equal, parse_number

RULES = ("cue", "cue_words", "boxed", "english_cue", "english_cue_words", "last_number")
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
    return re.compile(rf"(?:{'|'.join(cues)})(?P<gap>{_CUE_GAP})(?=[-\u2212]?\d)", re.IGNORECASE)


@cache
def _cue_words_pattern(answer_cues: tuple[str, ...]) -> re.Pattern[str]:
    """A cue followed by anything (the words of a numeral written out)."""
    cues = sorted(
        {_cue_regex(cue) for cue in answer_cues if _cue_regex(cue)}, key=len, reverse=True
    )
    return re.compile(rf"(?:{'|'.join(cues)})", re.IGNORECASE)


def _english_cues() -> tuple[str, ...]:
    return tuple(load_pack("en").answer_cues)


@cache
def _english_pattern() -> re.Pattern[str]:
    cues = [_cue_regex(cue) for cue in _english_cues()] + _ENGLISH_CUES
    return re.compile(rf"(?:{'|'.join(cues)})(?P<gap>{_CUE_GAP})(?=[-\u2212]?\d)", re.IGNORECASE)


_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}")
_FRAC = re.compile(r"\\d?frac\{([^{}]+)\}\{([^{}]+)\}")
_LATEX_NOISE = re.compile(r"\\text\{[^{}]*\}|\\[,!;: ]|\\\$|\{,\}|\\%|\\mathrm\{[^{}]*\}")


_MIXED = re.compile(r"(\d+)\s+(\d+)\s*/\s*(\d+)(?![\d/])")
_FRACTION = re.compile(r"(\d+)\s*/\s*(\d+)(?![\d/])")


def _fraction_at(text: str, start: int) -> tuple[float, int] | None:
    """A mixed number ("1 1/2") or fraction ("3/4") starting at ``start``: value and end."""
    if start > 0 and text[start - 1] == "/":
        return None  # the second half of a date or ratio, not a number of its own
    mixed = _MIXED.match(text, start)
    if mixed and int(mixed.group(3)) and int(mixed.group(2)) < int(mixed.group(3)):
        whole, top, bottom = (int(mixed.group(i)) for i in (1, 2, 3))
        return whole + top / bottom, mixed.end()
    fraction = _FRACTION.match(text, start)
    if fraction and int(fraction.group(2)):
        return int(fraction.group(1)) / int(fraction.group(2)), fraction.end()
    return None


def _latex_fraction(text: str, gap_start: int, digit: int) -> tuple[float, int] | None:
    """``\\frac{3}{4}`` or ``\\dfrac{3}{4}`` whose numerator starts at ``digit``."""
    opening = re.search(r"\\d?frac\s*\{\s*$", text[gap_start:digit])
    if not opening:
        return None
    frac = _FRAC.match(text, gap_start + opening.start())
    if not frac:
        return None
    top, bottom = find_numbers(frac.group(1)), find_numbers(frac.group(2))
    if top and bottom and top[0].value is not None and bottom[0].value:
        return top[0].value / bottom[0].value, frac.end()
    return None


def _number_after_last_cue(
    text: str, pattern: re.Pattern[str], pack: LanguagePack | None
) -> tuple[float, str] | None:
    """The number right after the last match of ``pattern`` (a fraction read whole), and the
    cue-to-number span."""
    for match in reversed(list(pattern.finditer(text))):
        digit = match.end()
        whole = _latex_fraction(text, match.start("gap"), digit) or _fraction_at(text, digit)
        if whole:
            return whole[0], text[match.start() : whole[1]]
        tokens = find_numbers(text[digit:], pack.numbers if pack else None)
        if tokens and tokens[0].start == 0 and tokens[0].value is not None:
            end = digit + tokens[0].end
            unit = (
                _CJK_UNITS.get(text[end : end + 1]) if pack and pack.number_words == "cjk" else None
            )
            if unit:  # 3万, 1.5億: digits with a CJK unit
                return tokens[0].value * unit, text[match.start() : end + 1]
            return tokens[0].value, text[match.start() : end]
    return None


_CJK_UNITS = {"万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8, "兆": 1e12}


def _words_after_last_cue(text: str, cues: tuple[str, ...], pack: LanguagePack):
    """A numeral written as words right after the last cue, with the pack's converter."""
    from polyglot.text.number_words import words_to_number

    if not pack.number_words:
        return None
    matches = list(_cue_words_pattern(cues).finditer(text))
    if not matches:
        return None
    match = matches[-1]
    found = words_to_number(
        text[match.end() : match.end() + 80], pack.number_words, pack.code, pack.space_delimited
    )
    if found:
        return found[0], text[match.start() : match.end()] + " " + found[1]
    return None


def _boxed_value(text: str, pack: LanguagePack | None) -> tuple[float, str] | None:
    for match in reversed(list(_BOXED.finditer(text))):
        inner = _LATEX_NOISE.sub("", match.group(1))
        frac = _FRAC.search(inner)
        if frac:
            numerator = find_numbers(frac.group(1))
            denominator = find_numbers(frac.group(2))
            if numerator and denominator and denominator[0].value:
                whole = re.match(r"\s*(\d+)\s*\\d?frac", inner)  # 1\frac{1}{2}: a mixed number
                value = numerator[0].value / denominator[0].value
                return (int(whole.group(1)) if whole else 0) + value, match.group(0)
        digits = re.search(r"\d", inner)
        if digits:
            whole = _fraction_at(inner, digits.start())
            if whole:
                return whole[0], match.group(0)
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
    found = _words_after_last_cue(text, tuple(pack.answer_cues), pack)
    if found:
        return Answer(found[0], "cue_words", found[1])
    boxed = _boxed_value(text, pack)
    if boxed:
        return Answer(boxed[0], "boxed", boxed[1])
    found = _number_after_last_cue(text, _english_pattern(), pack)
    if found:
        return Answer(found[0], "english_cue", found[1])
    if pack.code != "en":
        found = _words_after_last_cue(text, _english_cues(), load_pack("en"))
        if found:
            return Answer(found[0], "english_cue_words", found[1])
    tokens = [
        t
        for t in find_numbers(text, pack.numbers)
        if t.value is not None and not _in_fraction(text, t.start, t.end)
    ]
    if tokens:
        return Answer(tokens[-1].value, "last_number", tokens[-1].text)
    return Answer(None, reason="no number in output")


def _in_fraction(text: str, start: int, end: int) -> bool:
    """A number that is one side of "3/4" or "12/05/2024": not an answer of its own."""
    before = text[max(0, start - 2) : start].strip()
    after = text[end : end + 2].strip()
    return before.endswith("/") or after.startswith("/")


def parse_gold(answer: str | int | float, lang: str | LanguagePack = "en") -> float:
    """A benchmark's gold answer as a number ("2,125" is 2125 in MGSM's English format)."""
    if isinstance(answer, int | float):
        return float(answer)
    pack = load_pack(lang) if isinstance(lang, str) else lang
    text = normalize_text(str(answer)).strip()
    latex = _FRAC.fullmatch(text.strip("$ "))
    if latex:
        return parse_number(latex.group(1), pack.numbers) / parse_number(
            latex.group(2), pack.numbers
        )
    whole = _fraction_at(text, 0)
    if whole and whole[1] == len(text):  # "3/4", "1 1/2"
        return whole[0]
    return parse_number(text, pack.numbers)


def is_correct(answer: Answer, gold: float) -> bool:
    return answer.found and numbers_equal(answer.value, gold)
