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

import json
import os
import re
import unicodedata
from functools import cache
from importlib.metadata import version

from polyglot.provenance import cache_root

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
    """The table of ``lang``, written once per num2words version to polyglot's cache folder
    (building it calls num2words 10,000 times: about 0.7 s a language)."""
    path = cache_root() / "number-words" / f"{lang}-{version('num2words')}-{_LIMIT}.json"
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(table, dict) and all(isinstance(v, int) for v in table.values()):
            return table
    except (OSError, ValueError):
        pass  # not built yet, or damaged: built again
    table = _build_num2words_table(lang)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: the table is only rebuilt next time
    return table


def _build_num2words_table(lang: str) -> dict[str, int]:
    from num2words import num2words

    table: dict[str, int] = {}
    for code in _NUM2WORDS_CODES.get(lang, (lang,)):
        for n in range(_LIMIT + 1):
            written = _normal(num2words(n, lang=code))
            for variant in (written, written.replace(" and ", " ").replace(" e ", " "),
                            written.replace(" و ", " و")):  # fmt: skip
                table.setdefault(variant, n)
    return table


# languages num2words writes in more than one standard: every one is read
_NUM2WORDS_CODES = {"pt": ("pt", "pt_BR")}


@cache
def _number_vocabulary(lang: str) -> frozenset[str]:
    """Every word num2words uses for this language, scale words beyond the table included:
    a numeral followed by one of them continues past what the table can read."""
    from num2words import num2words

    words = {word for key in _num2words_table(lang) for word in key.split()}
    for n in (10**5, 10**6, 10**9, 10**12):
        words.update(_normal(num2words(n, lang=lang)).split())
    return frozenset(words)


def _ends_sentence(word: str) -> bool:
    return bool(word) and word[-1] in ".!?。！？।॥؟;"


def _ends_here(rest: str, suffixes: tuple[str, ...]) -> bool:
    """Whether a numeral may end where ``rest`` begins: at the end, a space or punctuation, or
    suffixes the pack declares (ko 입니다, ja 円です, zh 个) that themselves end there — never
    inside a longer word ("一个偶数" is "an even number", not 1)."""
    while True:
        if not rest or rest[0].isspace() or unicodedata.category(rest[0]).startswith("P"):
            return True
        suffix = next(
            (x for x in sorted(suffixes, key=len, reverse=True) if rest.startswith(x)), None
        )
        if suffix is None:
            return False
        rest = rest[len(suffix) :]


@cache
def _ordinal_stems(lang: str) -> tuple[str, ...]:
    """Ordinals (third, quatrième, Drittel's "dritt") begin fraction words: "two thirds"."""
    from num2words import num2words

    stems = set()
    for n in range(2, 13):
        try:
            stems.add(_normal(num2words(n, lang=lang, to="ordinal"))[:5])
        except (NotImplementedError, TypeError, ValueError, KeyError):
            break
    return tuple(stem for stem in stems if len(stem) >= 4)


def _blocked(word: str, lang: str, blockers: tuple[str, ...]) -> bool:
    word = _normal(_strip_punctuation(word))
    return any(word.startswith(b.lower()) for b in blockers) or any(
        word.startswith(stem) for stem in _ordinal_stems(lang)
    )


def _num2words(segment: str, lang: str, spaced: bool, suffixes: tuple[str, ...], blockers=()):
    """The numeral at the start of ``segment``, read whole: whole words, not followed by
    another number word (it would go on past what is read), and ending its phrase within a few
    words ("twenty-five apples."), so "one of the options, so 12" is not read as 1."""
    table = _num2words_table(lang)
    if spaced:
        words = segment.split()
        for size in range(min(len(words), 10), 0, -1):
            candidate = _strip_punctuation(" ".join(words[:size]))
            value = table.get(_normal(candidate))
            if value is None:
                continue
            closed = candidate != " ".join(words[:size])  # punctuation right after it
            rest = words[size:]
            if rest and _normal(_strip_punctuation(rest[0])) in _number_vocabulary(lang):
                return None
            # the phrase ends right there, or after one word (a unit: "twenty-five apples.");
            # "one of the options", "un peu plus", "two thirds", "one more" are not answers; in
            # a language whose units are glued on (ko 개), a separate word never is a unit
            if closed or not rest:
                return float(value), candidate
            if _ends_sentence(rest[0]) and not suffixes and not _blocked(rest[0], lang, blockers):
                return float(value), candidate
            return None
    if spaced and not suffixes:
        return None  # "seventy-something", "tenth": never a numeral cut out of a word
    # no spaces between words (th), or a suffix glued to the numeral (ko "칠입니다"): the
    # longest run of characters that spells a number and ends where a numeral may end
    for end in range(min(len(segment), 24), 0, -1):
        value = table.get(_normal(segment[:end]))
        if value is not None and _ends_here(segment[end:], suffixes):
            return float(value), segment[:end]
    return None


def _cjk(segment: str, suffixes: tuple[str, ...]) -> tuple[float, str] | None:
    import cn2an

    run = _CJK_RUN.match(segment)
    if not run:
        return None
    text = run.group(0).rstrip("点點")
    if not _ends_here(segment[len(text) :], suffixes):
        return None  # 十分 (enough), 一共 (in all): words that start with a numeral
    simplified = text.translate(str.maketrans({"億": "亿", "萬": "万", "兩": "两", "點": "点"}))
    if simplified[0] in "百千万亿":
        simplified = "一" + simplified  # 千 is one thousand
    try:
        return float(cn2an.cn2an(simplified, "smart")), text
    except (ValueError, KeyError):
        return None


def words_to_number(
    segment: str,
    converter: str,
    lang: str,
    spaced: bool = True,
    suffixes: tuple[str, ...] = (),
    blockers: tuple[str, ...] = (),
):
    """The number written in words at the start of ``segment``, and the words, or None."""
    segment = segment.lstrip(" :：*\"'“”«»")
    if converter == "cjk":
        return _cjk(segment, suffixes)
    if converter == "num2words":
        return _num2words(segment, lang, spaced, suffixes, blockers)
    raise ValueError(f"unknown number-word converter '{converter}'")  # the pack schema checks
