"""Language identification: which language a text (or each of its sentences) is written in."""

from polyglot.detect.language_id import (
    Detection,
    detect_language,
    language_ratio,
    language_shares,
    split_sentences,
)

__all__ = ["Detection", "detect_language", "language_ratio", "language_shares", "split_sentences"]
