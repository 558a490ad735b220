"""``native``: every item as it is, in its own language (the default)."""

from __future__ import annotations

from polyglot.evaluate.runner import execute
from polyglot.strategies.base import STRATEGIES, Strategy


@STRATEGIES.register("native")
class Native(Strategy):
    name = "native"

    def run(self, config, backends: dict):
        return execute(config, backends)
