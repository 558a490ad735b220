"""Labelled calibration sets for understanding-failure detectors, thresholds, and the metrics
a detector is judged by (Kang et al., 2025).

Label 1 (not understood): the model is wrong on the native question but right once it is given
the English understanding; label 0: right on the native question; items wrong both ways are
left out (no detector could help them). Thresholds are picked on calibration items only —
fixed, the one with the best F1, or the one that flags at most a budget share — and metrics are
read on items held out from that choice."""

from __future__ import annotations

import math
import random


def label_items(native: dict[str, dict], understood: dict[str, dict]) -> dict[str, int]:
    """``{key: 0 | 1}`` over the non-English items present in both runs."""
    labels = {}
    for key, record in native.items():
        if record["lang"] == "en" or key not in understood:
            continue
        if record["correct"]:
            labels[key] = 0
        elif understood[key]["correct"]:
            labels[key] = 1
    return labels


def split_keys(keys: list[str], shares: tuple[float, ...], seed: int = 0) -> list[list[str]]:
    """``keys`` shuffled (seeded) and cut into parts of the given shares (the last takes the
    rest)."""
    order = sorted(keys)
    random.Random(seed).shuffle(order)
    parts, start = [], 0
    for share in shares[:-1]:
        end = start + round(share * len(order))
        parts.append(order[start:end])
        start = end
    parts.append(order[start:])
    return parts


def max_f1_threshold(scores: list[float], labels: list[int]) -> float:
    """The threshold (flag when score > threshold) with the best F1 for label 1."""
    candidates = sorted(set(scores))
    best, best_f1 = (candidates[0] - 1.0) if candidates else 0.0, -1.0
    for i, value in enumerate(candidates):
        # flag everything above the midpoint between this score and the next one down
        threshold = (value + candidates[i - 1]) / 2 if i else value - 1.0
        f1 = binary_metrics(scores, labels, threshold)["f1"]
        if f1 > best_f1:
            best, best_f1 = threshold, f1
    return best


def budget_threshold(scores: list[float], budget: float) -> float:
    """The threshold that flags at most ``budget`` of the items (the highest scores; tied scores
    at the cut stay unflagged — ``top_share`` flags exactly the budget); reads no labels."""
    if not scores:
        return math.inf
    ordered = sorted(scores, reverse=True)
    allowed = math.floor(budget * len(ordered) + 1e-9)
    if allowed >= len(ordered):
        return ordered[-1] - 1.0
    return ordered[allowed]


def top_share(scores: dict[str, float], budget: float) -> set[str]:
    """Exactly ``floor(budget × n)`` keys with the highest scores, ties broken by key (so a
    budget is used whole even when many scores are equal); reads no labels."""
    count = math.floor(budget * len(scores) + 1e-9)
    ranked = sorted(scores, key=lambda key: (-scores[key], key))
    return set(ranked[:count])


def binary_metrics(scores: list[float], labels: list[int], threshold: float) -> dict:
    flagged = [s > threshold for s in scores]
    tp = sum(f and y == 1 for f, y in zip(flagged, labels, strict=True))
    fp = sum(f and y == 0 for f, y in zip(flagged, labels, strict=True))
    fn = sum((not f) and y == 1 for f, y in zip(flagged, labels, strict=True))
    tn = sum((not f) and y == 0 for f, y in zip(flagged, labels, strict=True))
    tpr = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    f1 = 2 * precision * tpr / (precision + tpr) if precision + tpr else 0.0
    return {
        "balanced_accuracy": round((tpr + tnr) / 2, 4),
        "f1": round(f1, 4),
        "flag_rate": round(sum(flagged) / len(flagged), 4) if flagged else 0.0,
    }


def roc_auc(scores: list[float], labels: list[int]) -> float | None:
    """P(score of a positive > score of a negative), ties counting half (Mann-Whitney)."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    negatives = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return round(wins / (len(positives) * len(negatives)), 4)


def pr_auc(scores: list[float], labels: list[int]) -> float | None:
    """Average precision of label 1 over the ranking by score; tied scores form one step (their
    precision is read once the whole tie is taken), so a constant score gets the prevalence."""
    total = sum(labels)
    if not total:
        return None
    groups: dict[float, list[int]] = {}
    for score, label in zip(scores, labels, strict=True):
        groups.setdefault(score, []).append(label)
    taken = hits = 0
    average = 0.0
    for score in sorted(groups, reverse=True):
        group = groups[score]
        taken += len(group)
        new_hits = sum(group)
        hits += new_hits
        average += (new_hits / total) * (hits / taken)
    return round(average, 4)


def split_by_item(keys: list[str], shares: tuple[float, ...], seed: int = 0) -> list[list[str]]:
    """``lang/id`` keys cut into parts by item id (seeded): every language of one problem falls in
    the same part, so a held-out item's translation was never seen in training."""
    ids = sorted({key.split("/", 1)[1] for key in keys})
    parts = split_keys(ids, shares, seed)
    return [sorted(k for k in keys if k.split("/", 1)[1] in set(part)) for part in parts]


def report(scores: list[float], labels: list[int], threshold: float) -> dict:
    """Everything a detector is judged by, on held-out items."""
    return {
        "n": len(labels),
        "positives": sum(labels),
        "threshold": threshold,
        **binary_metrics(scores, labels, threshold),
        "roc_auc": roc_auc(scores, labels),
        "pr_auc": pr_auc(scores, labels),
    }


def question_digests(dataset) -> list[str]:
    """A short digest of every question of a dataset, in every language (whitespace and case
    folded): what the items are, whatever their ids, file paths or benchmark name."""
    import hashlib

    found = set()
    for lang in dataset.languages:
        for example in dataset.for_language(lang):
            text = " ".join(example.question.split()).casefold()
            found.add(hashlib.sha1(text.encode("utf-8")).hexdigest()[:16])
    return sorted(found)
