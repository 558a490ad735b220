"""Numbers and answers in every script: normalization, extraction, numeric comparison."""

from polyglot.text.answers import Answer, extract_answer, is_correct, parse_gold
from polyglot.text.numbers import (
    find_numbers,
    format_number,
    normalize_text,
    numbers_equal,
    parse_number,
)

__all__ = [
    "Answer",
    "extract_answer",
    "find_numbers",
    "format_number",
    "is_correct",
    "normalize_text",
    "numbers_equal",
    "parse_gold",
    "parse_number",
]
