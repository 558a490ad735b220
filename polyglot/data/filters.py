"""The filters of ``polyglot data build``; each drop is counted under its name in the summary.

- ``no_answer`` / ``wrong_answer``: the response's answer, read by polyglot's extractor, is
  missing or differs from the gold (rejection sampling for teacher outputs);
- ``no_cue``: the response does not end its reasoning with an answer cue;
- ``language_share``: the target language's share of the reasoning is outside the band;
- ``length``: too short or too long (characters);
- ``degenerate``: an endlessly repeated phrase, more than one thinking block, or (schemas
  whose answer is in the target language) a final answer sentence not in it;
- ``near_duplicate``: MinHash (datasketch) Jaccard over word 5-grams above a threshold with an
  item kept earlier;
- ``contaminated``: a 13-gram of the question or response appears in a benchmark polyglot
  evaluates on (MGSM, PolyMath, the testbed test split).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from functools import lru_cache

import regex

from polyglot.detect.language_id import detect_language, split_sentences
from polyglot.detect.scripts import script_of
from polyglot.packs import load_pack

# a word: letters with their combining marks (Bengali, Telugu and Thai vowel signs are marks,
# which \w would split on) and digits
_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_SPACELESS = {"Thai", "Han", "Hiragana", "Katakana", "Lao", "Khmer", "Myanmar", "Tibetan"}


# -- language share --------------------------------------------------------------------------


_DIGITS = re.compile(r"\d+")


def _sentence_language(sentence: str, lang: str) -> str:
    # numbers do not decide a sentence's language: one cache entry for "Tom has 3 pens." and
    # "Tom has 14 pens."
    return _shape_language(_DIGITS.sub("0", sentence), lang)


@lru_cache(maxsize=200_000)
def _shape_language(sentence: str, lang: str) -> str:

    return detect_language(sentence, [lang, "en"]).lang


@lru_cache(maxsize=64)
def _english_words() -> frozenset[str]:
    pack = load_pack("en")
    words = [*pack.lexicon, *pack.answer_cues, *pack.prompts.model_dump().values()]
    return frozenset(w for text in words for w in _TOKEN.findall(text.lower()))


@lru_cache(maxsize=64)
def _pack_words(lang: str) -> frozenset[str]:
    pack = load_pack(lang)
    words = [*pack.lexicon.values(), *pack.answer_cues, *pack.prompts.model_dump().values()]
    return frozenset(w for text in words for w in _TOKEN.findall(text.lower()))


def target_share(text: str, lang: str, question: str = "") -> float:
    """The share of ``text``'s letters in ``lang``, sentence by sentence.

    Target written in its own script (Thai, Bengali, Korean ...): letters in that script
    count for the target, the rest for English, so a Thai name in an English sentence counts
    as Thai letters only (fastText would give the whole sentence to Thai). Latin-script
    target: a sentence fastText reads as the target (choosing between it and English) counts
    whole; in the others, the words of the target's vocabulary (the pack's lexicon, prompts
    and cues, and the words of ``question``, which is in the target language) that are not
    English count (fastText gives a short mixed sentence to either language at random)."""

    scripts = set(load_pack(lang).scripts)
    latin_target = "Latin" in scripts
    if latin_target:
        vocabulary = (
            _pack_words(lang) | {w for w in _TOKEN.findall(question.lower())}
        ) - _english_words()
    target = total = 0
    for sentence in split_sentences(text):
        counts: dict[str, int] = {}
        for char in sentence:
            script = script_of(char)
            if script is not None:
                counts[script] = counts.get(script, 0) + 1
        letters = sum(counts.values())
        if not letters:
            continue
        total += letters
        if latin_target:
            if _sentence_language(sentence, lang) == lang:
                target += letters
            else:
                target += sum(
                    len(w)
                    for w in _TOKEN.findall(sentence.lower())
                    if w in vocabulary and not w.isdigit()
                )
        else:
            target += sum(n for s, n in counts.items() if s in scripts)
    return target / total if total else 0.0


# -- degenerate output -----------------------------------------------------------------------


def repeated_phrase(text: str, n: int = 4, times: int = 4) -> bool:
    """Whether some phrase of ``n`` words comes back ``times`` times in a row (a model stuck
    in a loop)."""
    words = text.split()
    for size in range(1, n + 1):
        run = 1
        for i in range(size, len(words) - size + 1, size):
            if words[i : i + size] == words[i - size : i]:
                run += 1
                if run >= times:
                    return True
            else:
                run = 1
    return False


def thinking_blocks(text: str, tags: tuple[str, str] = ("<think>", "</think>")) -> int:
    return text.count(tags[0])


# -- n-grams: decontamination and near-duplicates --------------------------------------------


def tokens(text: str) -> list[str]:
    """Lowercased words; a script written without spaces (Thai, Chinese, Japanese ...) counts
    each letter (with its marks) as a token."""
    out: list[str] = []
    for word in _TOKEN.findall(text.lower()):
        if script_of(word[0]) in _SPACELESS:
            out.extend(regex.findall(r"\X", word))  # grapheme clusters
        else:
            out.append(word)
    return out


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = tokens(text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


# letters per word of an n-gram, by script, for scripts written without spaces: a 13-word
# window is about 26 Chinese or Japanese characters, and about 52 Thai (Lao, Khmer, Myanmar)
# letters
_CJK = {"Han", "Hiragana", "Katakana"}
LETTERS_PER_WORD = {"cjk": 2, "sea": 4}


def _spaceless_class(token: str) -> str | None:
    script = script_of(token[0])
    if script not in _SPACELESS:
        return None
    return "cjk" if script in _CJK else "sea"


def overlap_grams(text: str, n: int = 13) -> set[int]:
    """The n-grams decontamination compares, the same for the benchmarks and the data: 13
    consecutive words, and, where a script written without spaces is involved, a window of
    about the same length in its letters (26 for Chinese and Japanese, 52 for Thai; each of
    its letters is one token). English inside Thai text still yields its word 13-grams, and a
    Bengali word (letters and vowel signs) is one word."""
    words = tokens(text)
    classes = [_spaceless_class(w) for w in words]
    grams: set[int] = set()
    run = 0  # word n-grams: windows of n tokens none of which is a spaceless letter
    for i, cls in enumerate(classes):
        run = 0 if cls else run + 1
        if run >= n:
            grams.add(hash(tuple(words[i - n + 1 : i + 1])))
    for cls, factor in LETTERS_PER_WORD.items():
        if cls not in classes:
            continue
        size = n * factor  # letter windows holding a letter of this class
        last = -size - 1
        for i, c in enumerate(classes):
            if c == cls:
                last = i
            if i >= size - 1 and last > i - size:
                grams.add(hash((cls, *words[i - size + 1 : i + 1])))
    return grams


class Decontaminator:
    """Every overlap n-gram (``overlap_grams``) of the benchmarks' questions; ``hit(text)`` says
    whether a text shares one (the usual 13-gram test-set overlap rule, as in GPT-3's and
    Llama's reports)."""

    def __init__(self, texts: Iterable[str], n: int = 13):
        self.n = n
        self.grams: set[int] = set()
        for text in texts:
            self.grams |= overlap_grams(text, n)

    def hit(self, text: str, lang: str | None = None) -> bool:
        """Whether ``text`` shares an overlap n-gram with the benchmarks (``lang`` is not
        needed: the scripts of the text decide; kept for callers)."""
        return not self.grams.isdisjoint(overlap_grams(text, self.n))


def _hash32(shingle: str) -> int:
    return zlib.crc32(shingle.encode())


class NearDuplicates:
    """MinHash LSH (datasketch) over word 5-grams: ``seen(key, text)`` is True when a text kept
    earlier has an estimated Jaccard similarity above ``threshold``; otherwise it is kept."""

    def __init__(self, threshold: float = 0.9, num_perm: int = 64, n: int = 5):
        from datasketch import MinHash, MinHashLSH

        self.threshold, self.num_perm, self.n = threshold, num_perm, n
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        # permutations drawn once and copied; shingles hashed with CRC-32 (deterministic and
        # in C; sha1, datasketch's default, was half the build's time)
        self._empty = MinHash(num_perm=num_perm, seed=1, hashfunc=_hash32)

    def _minhash(self, text: str):
        words = tokens(text)
        shingles = {" ".join(words[i : i + self.n]) for i in range(max(1, len(words) - self.n + 1))}
        signature = self._empty.copy()
        signature.update_batch(list(shingles))
        return signature

    def seen(self, key: str, text: str) -> bool:
        signature = self._minhash(text)
        if self.lsh.query(signature):
            return True
        self.lsh.insert(key, signature)
        return False
