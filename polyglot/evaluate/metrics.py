"""Statistics for multilingual evaluation, on per-item correctness lists.

Accuracy with a Wilson score 95% interval, the gap to English (points and ratio),
cross-lingual consistency on parallel items, and paired comparisons of two runs on the same
items (exact McNemar test and a paired bootstrap). Pure functions over lists of booleans, so
every number in a report can be recomputed by hand.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

ACCURACY_INTERVAL = "wilson"  # recorded in results.json next to every interval
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Accuracy:
    value: float
    low: float  # 95% Wilson score interval
    high: float
    n: int


def _check_pairs(a: Sequence[bool], b: Sequence[bool]) -> None:
    if len(a) != len(b):
        raise ValueError(f"paired lists differ in length: {len(a)} vs {len(b)}")


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927). Unlike the percentile bootstrap or
    the normal approximation it stays informative at 0 and n successes: 0 of 200 gives
    [0, 1.9%], not [0, 0]."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # at p = 0 or 1 the bound is exactly 0 or 1 (rounding would leave 1e-17)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def accuracy(correct: Sequence[bool]) -> Accuracy:
    """Mean correctness and its 95% Wilson score interval."""
    n = len(correct)
    if n == 0:
        return Accuracy(float("nan"), float("nan"), float("nan"), 0)
    successes = sum(1 for c in correct if c)
    low, high = wilson_interval(successes, n)
    return Accuracy(successes / n, low, high, n)


@dataclass(frozen=True)
class Gap:
    points: float  # Acc(l) - Acc(en), in percentage points
    ratio: float  # Acc(l) / Acc(en)


def gap_to_english(acc_lang: float, acc_english: float) -> Gap:
    ratio = acc_lang / acc_english if acc_english > 0 else float("nan")
    return Gap(100 * (acc_lang - acc_english), ratio)


@dataclass(frozen=True)
class Consistency:
    both: float  # share of items solved in English and in the language
    english_only: float
    language_only: float
    neither: float


def consistency(english: Sequence[bool], language: Sequence[bool]) -> Consistency:
    """How parallel items split between solved in both, in one only, or in neither."""
    _check_pairs(english, language)
    n = len(english) or 1
    pairs = list(zip(english, language, strict=True))
    share = lambda e, lang: sum(1 for p in pairs if p == (e, lang)) / n  # noqa: E731
    return Consistency(
        share(True, True), share(True, False), share(False, True), share(False, False)
    )


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value for two runs' correctness on the same items."""
    _check_pairs(a, b)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_a, only_b) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def paired_bootstrap(
    a: Sequence[bool], b: Sequence[bool], *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Accuracy difference b - a, and the two-sided bootstrap p-value that it is zero."""
    _check_pairs(a, b)
    n = len(a)
    if n == 0:
        return float("nan"), float("nan")
    diffs = [int(bool(y)) - int(bool(x)) for x, y in zip(a, b, strict=True)]
    observed = sum(diffs) / n
    rng = random.Random(seed)
    samples = [sum(rng.choices(diffs, k=n)) / n for _ in range(resamples)]
    # share of resampled differences on the other side of zero, doubled
    if observed == 0:
        return 0.0, 1.0
    other_side = sum(1 for s in samples if (s <= 0 if observed > 0 else s >= 0))
    return observed, min(1.0, 2 * other_side / resamples)
