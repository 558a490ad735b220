"""Merging experts: the per-layer change analysis that picks the layers to swap (and, to come,
layer swapping itself and the mergekit baselines; see the open issue)."""

from polyglot.merge.analyze import analyze, suggest_swap

__all__ = ["analyze", "suggest_swap"]
