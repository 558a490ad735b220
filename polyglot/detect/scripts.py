"""Which Unicode script each letter belongs to, by the names packs use ("Bengali", "Han").

Used for language identification of strings too short for fastText, and to rule out
languages whose script does not match the text at all.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

# Script names whose characters' Unicode names do not start with the script's own name.
_NAME_PREFIXES = {
    "Han": ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"),
    "Hangul": ("HANGUL",),
}
_KNOWN = (
    "Latin", "Cyrillic", "Greek", "Arabic", "Hebrew", "Devanagari", "Bengali", "Gurmukhi",
    "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala", "Thai", "Lao",
    "Tibetan", "Myanmar", "Georgian", "Armenian", "Ethiopic", "Khmer", "Hiragana", "Katakana",
    "Han", "Hangul",
)  # fmt: skip


@lru_cache(maxsize=65536)
def script_of(char: str) -> str | None:
    """The script of a letter or combining mark, or None for digits, punctuation, spaces."""
    if not (char.isalpha() or unicodedata.category(char).startswith("M")):
        return None
    name = unicodedata.name(char, "")
    for script in _KNOWN:
        for prefix in _NAME_PREFIXES.get(script, (script.upper(),)):
            if name.startswith(prefix):
                return script
    return "Other"


def script_counts(text: str) -> Counter[str]:
    return Counter(s for s in map(script_of, text) if s is not None)
