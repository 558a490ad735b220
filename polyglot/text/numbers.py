"""Numbers as people write them in every script: normalize, find, parse and render.

Parsing follows the language pack's number format, so "1.000" is one thousand in German and
one in English, "12,5" is twelve and a half in French, and "১৮", "๑๘" or "١٨" are eighteen.
Separators the pack does not declare fall back to English conventions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyglot.packs import LanguagePack, NumberFormat

# Characters NFKC would fold into an ordinary space; between digits they group thousands.
SPACE_GROUP_SEPARATORS = "\u00a0\u202f\u2009"
APOSTROPHE_GROUP_SEPARATORS = "'\u2019"
# Separators that may sit between two digit runs of one number, whatever the language.
NUMBER_SEPARATORS = ".,\u066b\u066c" + SPACE_GROUP_SEPARATORS + APOSTROPHE_GROUP_SEPARATORS
MINUS_SIGNS = "-\u2212"
_ENGLISH_ROLES = {",": "group", "\u066c": "group", ".": "decimal", "\u066b": "decimal"}
_KEEP_SPACES = re.compile(f"([{SPACE_GROUP_SEPARATORS}])")


def to_ascii_digits(text: str) -> str:
    """Every Unicode decimal digit (category Nd) becomes its ASCII digit."""
    return "".join(
        str(unicodedata.decimal(ch)) if ch > "\x7f" and unicodedata.category(ch) == "Nd" else ch
        for ch in text
    )


def normalize_text(text: str) -> str:
    """NFKC and ASCII digits, keeping no-break and thin spaces (NFKC would fold them into
    plain spaces, losing that "1 000" is one number)."""
    parts = _KEEP_SPACES.split(text)
    folded = [
        p if p and p in SPACE_GROUP_SEPARATORS else unicodedata.normalize("NFKC", p) for p in parts
    ]
    return to_ascii_digits("".join(folded))


@dataclass(frozen=True)
class NumberToken:
    start: int
    end: int
    text: str
    value: float | None  # None when the separators do not form a valid number


@cache
def number_pattern(extra_separators: str = "") -> re.Pattern[str]:
    separators = re.escape(NUMBER_SEPARATORS + extra_separators)
    return re.compile(rf"(?<!\d)(?P<sign>[{MINUS_SIGNS}])?\d+(?:[{separators}]\d+)*")


def find_numbers(normalized: str, fmt: NumberFormat | None = None) -> list[NumberToken]:
    """Number tokens in text already passed through ``normalize_text``."""
    plain_space = " " if fmt is not None and " " in fmt.thousands_separators else ""
    tokens = []
    for match in number_pattern(plain_space).finditer(normalized):
        start, text = match.start(), match.group(0)
        if match.group("sign") and start > 0 and normalized[start - 1].isalnum():
            start, text = start + 1, text[1:]  # "20-12": a hyphen between numbers, not a sign
        tokens.append(NumberToken(start, match.end(), text, parse_number(text, fmt, strict=False)))
    return tokens


def parse_number(
    text: str, fmt: NumberFormat | None = None, *, strict: bool = True
) -> float | None:
    """The value of one written number under ``fmt`` (English rules when None).

    Integers come back as floats with integral values. With ``strict`` a malformed number
    raises ValueError; otherwise it returns None.
    """
    s = normalize_text(text.strip())
    s = s.strip("$€£¥₹₩฿₦₱ ")
    negative = bool(s) and s[0] in MINUS_SIGNS
    if negative:
        s = s[1:]
    runs = re.split(r"\D", s)
    separators = re.findall(r"\D", s)
    if not s or not all(run.isdigit() for run in runs):
        if strict:
            raise ValueError(f"not a number: {text!r}")
        return None
    value = _interpret(runs, separators, fmt)
    if value is None:
        if strict:
            raise ValueError(f"malformed number {text!r} for this language's number format")
        return None
    return -value if negative else value


def _role(separator: str, fmt: NumberFormat | None) -> str:
    if separator in SPACE_GROUP_SEPARATORS + APOSTROPHE_GROUP_SEPARATORS + " ":
        return "group"
    if fmt is not None:
        if separator == fmt.decimal_separator:
            return "decimal"
        if separator in fmt.thousands_separators:
            return "group"
    return _ENGLISH_ROLES.get(separator, "invalid")


def _valid_grouping(runs: list[str], fmt: NumberFormat | None) -> bool:
    """Digit runs grouped as the language groups them, or in plain threes (models mix both)."""
    sizes = fmt.grouping if fmt is not None else [3]
    return _grouped(runs, sizes) or _grouped(runs, [3])


def _grouped(runs: list[str], sizes: list[int]) -> bool:
    primary, secondary = sizes[0], sizes[-1]
    if len(runs) < 2 or len(runs[-1]) != primary:
        return False
    if any(len(run) != secondary for run in runs[1:-1]):
        return False
    return 1 <= len(runs[0]) <= (secondary if len(runs) > 2 else primary)


def _interpret(runs: list[str], separators: list[str], fmt: NumberFormat | None) -> float | None:
    if not separators:
        return float(int(runs[0]))
    same_char = len(set(separators)) == 1
    # "1.000", "1 000", "10,00,000", and "1.000.000" even where "." is the decimal separator.
    grouping_char = _role(separators[0], fmt) == "group" or len(separators) > 1
    if same_char and grouping_char and _valid_grouping(runs, fmt):
        return float(int("".join(runs)))
    *head, last = separators
    last_role = _role(last, fmt)
    # The last separator is decimal if the language says so, or if it cannot be grouping
    # ("12,5" in English, "1.5" in German: models mix conventions).
    if last_role == "invalid" or (last_role == "group" and (head or len(runs[-1]) == 3)):
        return None
    if head:
        if len(set(head)) != 1 or _role(head[0], fmt) != "group":
            return None
        if not _valid_grouping(runs[:-1], fmt):
            return None
    integer = "".join(runs[:-1])
    return float(Decimal(f"{integer}.{runs[-1]}"))


def format_number(
    value: int | float,
    pack: LanguagePack,
    *,
    thousands_separator: str | None = None,
    group: bool = True,
) -> str:
    """Render ``value`` with the pack's digits, grouping and separators."""
    fmt = pack.numbers
    negative = value < 0
    text = (
        format(Decimal(str(abs(value))).normalize(), "f")
        if value != int(value)
        else str(abs(int(value)))
    )
    integer, _, fraction = text.partition(".")
    if group:
        sep = fmt.thousands_separators[0] if thousands_separator is None else thousands_separator
        integer = _group(integer, fmt.grouping, sep)
    out = integer + (fmt.decimal_separator + fraction if fraction else "")
    out = "".join(fmt.digits[int(ch)] if ch.isdigit() else ch for ch in out)
    return ("-" if negative else "") + out


def _group(digits: str, sizes: list[int], separator: str) -> str:
    groups = []
    size = sizes[0]
    while len(digits) > size:
        groups.append(digits[-size:])
        digits = digits[:-size]
        size = sizes[-1]
    groups.append(digits)
    return separator.join(reversed(groups))


def numbers_equal(a: float | None, b: float | None, *, rel_tol: float = 1e-6) -> bool:
    """Numeric comparison: integers exactly, decimals to a relative tolerance."""
    if a is None or b is None:
        return False
    if float(a).is_integer() and float(b).is_integer():
        return int(a) == int(b)
    return abs(a - b) <= rel_tol * max(1.0, abs(a), abs(b))
