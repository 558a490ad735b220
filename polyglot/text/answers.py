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
from polyglot.text.number_words import words_to_number
from polyglot.text.numbers import find_numbers, normalize_text, numbers_equal, parse_number

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


def _alternatives(answer_cues: tuple[str, ...]) -> list[str]:
    """The cues' regexes, longest first (so a cue never matches inside a longer one)."""
    return sorted(
        {_cue_regex(cue) for cue in answer_cues if _cue_regex(cue)}, key=len, reverse=True
    )


@cache
def _compile_cues(answer_cues: tuple[str, ...]) -> re.Pattern[str]:
    cues = _alternatives(answer_cues)
    return re.compile(rf"(?:{'|'.join(cues)})(?P<gap>{_CUE_GAP})(?=[-\u2212]?\d)", re.IGNORECASE)


@cache
def _cue_words_pattern(answer_cues: tuple[str, ...]) -> re.Pattern[str]:
    """A cue followed by anything (the words of a numeral written out)."""
    return re.compile(rf"(?:{'|'.join(_alternatives(answer_cues))})", re.IGNORECASE)


def _english_cues() -> tuple[str, ...]:
    return tuple(load_pack("en").answer_cues)


@cache
def _english_pattern() -> re.Pattern[str]:
    cues = [_cue_regex(cue) for cue in _english_cues()] + _ENGLISH_CUES
    return re.compile(rf"(?:{'|'.join(cues)})(?P<gap>{_CUE_GAP})(?=[-\u2212]?\d)", re.IGNORECASE)


_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}")
_LATEX_NOISE = re.compile(r"\\text\{[^{}]*\}|\\[,!;: ]|\\\$|\{,\}|\\%|\\mathrm\{[^{}]*\}")


_SIGN = r"(?P<sign>[-\u2212]\s*)?"
_MIXED = re.compile(_SIGN + r"(\d+)\s+(\d+)\s*/\s*(\d+)(?![\d/])")
_FRACTION = re.compile(_SIGN + r"(\d+)\s*/\s*(\d+)(?![\d/])")
_DATE = re.compile(r"[-\u2212]?\d+\s*/\s*\d+\s*/\s*\d+")  # 3/4/2024, 2024/12/05
# \frac{3}{4}, \dfrac, \tfrac, \frac34, with a sign and a whole part (-1\frac{1}{2})
_LATEX_FRAC = re.compile(
    _SIGN + r"(?:(?P<whole>\d+)\s*)?\\[dt]?frac\s*"
    r"(?:\{\s*(?P<top>[^{}]+?)\s*\}|(?P<top1>\d))\s*(?:\{\s*(?P<bottom>[^{}]+?)\s*\}|(?P<bottom1>\d))"
)


def _latex_value(match: re.Match) -> float | None:
    """The value of a ``_LATEX_FRAC`` match; None for a zero or unreadable denominator."""
    top = find_numbers(match.group("top") or match.group("top1"))
    bottom = find_numbers(match.group("bottom") or match.group("bottom1"))
    if not (top and bottom and top[0].value is not None and bottom[0].value):
        return None
    value = int(match.group("whole") or 0) + top[0].value / bottom[0].value
    return -value if match.group("sign") else value


def _fraction_at(text: str, start: int) -> tuple[float, int] | None:
    """A mixed number ("1 1/2") or fraction ("3/4", "-3/4") starting at ``start``: value and
    end. A zero denominator is no number."""
    if start > 0 and text[start - 1] == "/":
        return None  # the second half of a date or ratio, not a number of its own
    mixed = _MIXED.match(text, start)
    if mixed and int(mixed.group(4)) and int(mixed.group(3)) < int(mixed.group(4)):
        whole, top, bottom = (int(mixed.group(i)) for i in (2, 3, 4))
        value = whole + top / bottom
        return (-value if mixed.group("sign") else value), mixed.end()
    fraction = _FRACTION.match(text, start)
    if fraction and int(fraction.group(3)):
        value = int(fraction.group(2)) / int(fraction.group(3))
        return (-value if fraction.group("sign") else value), fraction.end()
    return None


_NO_NUMBER = (None, -1)  # a cue followed by something that is no answer (a date, x/0)


def _special_number_at(text: str, gap_start: int, digit: int):
    """A LaTeX fraction, a fraction or mixed number, or a date / zero denominator (no number)
    right after a cue; None when it is an ordinary number."""
    latex = _LATEX_FRAC.search(text, gap_start)
    if latex and latex.start() <= digit:
        value = _latex_value(latex)
        return _NO_NUMBER if value is None else (value, latex.end())
    if _DATE.match(text, digit):
        return _NO_NUMBER
    if re.match(r"[-\u2212]?\d+\s*/\s*0+(?!\d)", text[digit:]):
        return _NO_NUMBER
    return _fraction_at(text, digit)


def _number_after_last_cue(
    text: str, pattern: re.Pattern[str], pack: LanguagePack | None
) -> tuple[float, str] | None:
    """The number right after the last match of ``pattern`` (a fraction read whole), and the
    cue-to-number span."""
    for match in reversed(list(pattern.finditer(text))):
        digit = match.end()
        whole = _special_number_at(text, match.start("gap"), digit)
        if whole == _NO_NUMBER:
            continue
        if whole:
            return whole[0], text[match.start() : whole[1]], match.start()
        tokens = find_numbers(text[digit:], pack.numbers if pack else None)
        if tokens and tokens[0].start == 0 and tokens[0].value is not None:
            end = digit + tokens[0].end
            unit = (
                _CJK_UNITS.get(text[end : end + 1]) if pack and pack.number_words == "cjk" else None
            )
            if unit:  # 3万, 1.5億: digits with a CJK unit
                return tokens[0].value * unit, text[match.start() : end + 1], match.start()
            return tokens[0].value, text[match.start() : end], match.start()
    return None


_CJK_UNITS = {"万": 1e4, "萬": 1e4, "亿": 1e8, "億": 1e8, "兆": 1e12}


def _words_after_last_cue(text: str, cues: tuple[str, ...], pack: LanguagePack):
    """A numeral written as words right after the last cue, with the pack's converter."""

    if not pack.number_words:
        return None
    for match in reversed(list(_cue_words_pattern(cues).finditer(text))):
        found = words_to_number(
            text[match.end() : match.end() + 80],
            pack.number_words,
            pack.code,
            pack.space_delimited,
            tuple(pack.number_word_suffixes),
            tuple(pack.number_word_blockers),
        )
        if found:
            return found[0], text[match.start() : match.end()] + " " + found[1], match.start()
    return None


def _boxed_value(text: str, pack: LanguagePack | None) -> tuple[float, str] | None:
    for match in reversed(list(_BOXED.finditer(text))):
        inner = _LATEX_NOISE.sub("", match.group(1))
        latex = _LATEX_FRAC.search(inner)
        if latex:
            value = _latex_value(latex)
            if value is None:
                continue  # \frac{3}{0}: no number
            return value, match.group(0)
        digits = re.search(r"[-\u2212]?\d", inner)
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

    # the last cue wins, whether a digit or a word numeral follows it
    digits = _number_after_last_cue(text, _cue_pattern(pack), pack)
    words = _words_after_last_cue(text, tuple(pack.answer_cues), pack)
    if words and (not digits or words[2] > digits[2]):
        return Answer(words[0], "cue_words", words[1])
    if digits:
        return Answer(digits[0], "cue", digits[1])
    boxed = _boxed_value(text, pack)
    if boxed:
        return Answer(boxed[0], "boxed", boxed[1])
    digits = _number_after_last_cue(text, _english_pattern(), pack)
    words = (
        None if pack.code == "en" else _words_after_last_cue(text, _english_cues(), load_pack("en"))
    )
    if words and (not digits or words[2] > digits[2]):
        return Answer(words[0], "english_cue_words", words[1])
    if digits:
        return Answer(digits[0], "english_cue", digits[1])
    in_latex = [m.span() for m in _LATEX_FRAC.finditer(text)]
    tokens = [
        t
        for t in find_numbers(text, pack.numbers)
        if t.value is not None
        and not _in_fraction(text, t.start, t.end)
        and not any(a <= t.start < b for a, b in in_latex)
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
    latex = _LATEX_FRAC.fullmatch(text.strip("$ "))
    if latex and _latex_value(latex) is not None:
        return _latex_value(latex)
    whole = _fraction_at(text, 0)
    if whole and whole[1] == len(text):  # "3/4", "1 1/2"
        return whole[0]
    return parse_number(text, pack.numbers)


def is_correct(answer: Answer, gold: float) -> bool:
    return answer.found and numbers_equal(answer.value, gold)
