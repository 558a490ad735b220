"""What a strategy is, and the registry that finds one by name."""

from __future__ import annotations

from typing import ClassVar

from polyglot.registry import Registry

INJECTIONS = ("replace", "prefill")


class Strategy:
    """One way to answer a benchmark: decide each item's route, then run them.

    ``settings``: the eval config's fields this strategy reads beyond the common ones; any other
    strategy's settings given with it are an error. ``check`` refuses bad combinations when the
    config is validated (before any model loads); ``run`` evaluates, resumably."""

    name: ClassVar[str]
    settings: ClassVar[tuple[str, ...]] = ()

    def check(self, config) -> None:
        """Raise ``ValueError`` (naming the flag) for what this strategy cannot run."""

    def run(self, config, backends: dict):
        raise NotImplementedError


STRATEGIES: Registry[type[Strategy]] = Registry("strategy", "polyglot.strategies")
# the flags of each strategy-specific setting (for messages)
FLAGS = {"translator": "--translator", "inject": "--inject", "detector": "--detector",
         "budget": "--budget", "threshold": "--threshold", "calibration": "--calibration",
         "pivots": "--pivots"}  # fmt: skip
