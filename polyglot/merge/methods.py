"""Merge methods by name (``merges[].method`` in a merge recipe): layer swapping
(``layer_swap.py``) and the standard merges it is compared with (``standard.py``). Each method
registers itself where it is written; a new one is one module."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from polyglot.registry import Registry


class MergeMethod:
    """How a merge recipe's entry is made from the two experts (``math``, ``language``)."""

    name: ClassVar[str]
    description: ClassVar[str]
    needs_base: ClassVar[bool] = False  # the base the experts were fine-tuned from
    swaps_layers: ClassVar[bool] = False  # takes bottom/top/transition/embeddings/lm_head

    def make(self, spec: dict, experts: dict, base, folder: Path, overwrite: bool) -> dict:
        raise NotImplementedError


MERGE_METHODS: Registry[type[MergeMethod]] = Registry("merge method", "polyglot.merge")
