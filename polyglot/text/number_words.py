"""Numerals written as words ("twenty-five", "fünfundzwanzig", "二十五", "三万"), read as numbers.

A language pack names its converter (``number_words:`` in ``languages/*.yaml``), so adding a
language stays data:

- ``num2words``: the inverse of the maintained ``num2words`` library: every integer up to
  ``_LIMIT`` written out by num2words in the pack's language, looked up (longest match first).
  num2words writes en, de, fr, es, pt, it, ru, id, vi, ko, th, bn, ar and te among the packs'
  languages; hi, sw, ur and ms it does not (those packs name no converter).
- ``cjk``: Chinese and Japanese numerals with ``cn2an`` (十八, 二十五, 三百, 两千, 三万, 1億), a
  maintained converter that knows the large units; Japanese 億/萬 are read as 亿/万.

Only text right after an answer cue is read this way: a number word elsewhere in a sentence
("one of the apples") is never taken for an answer.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

_LIMIT = 10000  # num2words: every integer 0..10000 (the range of grade-school answers)
_CJK_DIGITS = "零〇一二两兩三四五六七八九十百千万萬亿億兆点點"
_CJK_RUN = re.compile(f"^[{_CJK_DIGITS}]+")


def _strip_punctuation(text: str) -> str:
    """Without the sentence's closing punctuation (".", "।", "。", "؟", …)."""
    while text and unicodedata.category(text[-1]).startswith("P"):
        text = text[:-1]
    return text


def _normal(text: str) -> str:
    # NFKC as the output it is looked up in (normalize_text), no case, hyphens as spaces
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.sub(r"[-‐,،]", " ", text).split())


@cache
def _num2words_table(lang: str) -> dict[str, int]:
    from num2words import num2words

    table: dict[str, int] = {}
    for n in range(_LIMIT + 1):
        written = _normal(num2words(n, lang=lang))
        table.setdefault(written, n)
        table.setdefault(written.replace(" and ", " ").replace(" e ", " "), n)
    return table


def _num2words(segment: str, lang: str, spaced: bool) -> tuple[float, str] | None:
    """The longest prefix of ``segment`` that num2words writes for some integer."""
    table = _num2words_table(lang)
    if spaced:
        words = segment.split()
        for size in range(min(len(words), 10), 0, -1):
            candidate = " ".join(words[:size])
            candidate = _strip_punctuation(candidate)
            value = table.get(_normal(candidate))
            if value is not None:
                return float(value), candidate
    # no spaces between words (th), or a suffix glued to the numeral (ko "칠입니다"): the
    # longest run of characters that spells a number
    for end in range(min(len(segment), 24), 0, -1):
        value = table.get(_normal(_strip_punctuation(segment[:end])))
        if value is not None:
            return float(value), segment[:end]
    return None


def _cjk(segment: str) -> tuple[float, str] | None:
    import cn2an

    run = _CJK_RUN.match(segment)
    if not run:
        return None
    text = run.group(0).rstrip("点點")
    simplified = text.translate(str.maketrans({"億": "亿", "萬": "万", "兩": "两", "點": "点"}))
    try:
        return float(cn2an.cn2an(simplified, "smart")), text
    except (ValueError, KeyError):
        return None


CONVERTERS = ("num2words", "cjk")


def words_to_number(segment: str, converter: str, lang: str, spaced: bool = True):
    """The number written in words at the start of ``segment``, and the words, or None."""
    segment = segment.lstrip(" :：*\"'“”«»")
    if converter == "cjk":
        return _cjk(segment)
    if converter == "num2words":
        return _num2words(segment, lang, spaced)
    raise ValueError(f"unknown number-word converter '{converter}' (known: {CONVERTERS})")
