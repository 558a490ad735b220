"""Numbers and answers in every script: normalization, extraction, numeric comparison.

The names below load with their module on first use: ``polyglot.packs`` reads
``polyglot.text.numbers`` and ``polyglot.text.answers`` reads the packs, so this package must
not import them all when any of its modules is imported."""

from polyglot.lazy import exports

_EXPORTS = {
    "Answer": "polyglot.text.answers",
    "extract_answer": "polyglot.text.answers",
    "is_correct": "polyglot.text.answers",
    "parse_gold": "polyglot.text.answers",
    "find_numbers": "polyglot.text.numbers",
    "format_number": "polyglot.text.numbers",
    "normalize_text": "polyglot.text.numbers",
    "numbers_equal": "polyglot.text.numbers",
    "parse_number": "polyglot.text.numbers",
}
__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS)
