"""Merging experts: the per-layer change analysis that picks the layers to swap, and layer
swapping (the mergekit baselines and merge recipes are to come; see the open issue)."""

from polyglot.merge.analyze import analyze, suggest_swap
from polyglot.merge.layer_swap import layer_swap, swap_plan

__all__ = ["analyze", "layer_swap", "suggest_swap", "swap_plan"]
