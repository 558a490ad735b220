"""Merging experts: the per-layer change analysis that picks the layers to swap, layer swapping,
the standard merges it is compared with (through mergekit), and merge recipes."""

from polyglot.merge.analyze import analyze, suggest_swap
from polyglot.merge.layer_swap import layer_swap, swap_plan
from polyglot.merge.standard import standard_merge

__all__ = ["analyze", "layer_swap", "standard_merge", "suggest_swap", "swap_plan"]
