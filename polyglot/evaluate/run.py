"""``evaluate(config)``: the entry point of an evaluation. It validates the config, finds the
config's strategy by name (``polyglot/strategies/``) and lets it plan and run its items through
the executor (``runner.execute``); the engines it loads are closed when it ends unless the
caller shares a ``backends`` dict between calls."""

from __future__ import annotations

from polyglot.config import validate_model
from polyglot.evaluate.config import EvalConfig
from polyglot.evaluate.runner import RunResult
from polyglot.generation.registry import close_backends
from polyglot.strategies.base import STRATEGIES


def evaluate(config: EvalConfig | dict, backends: dict | None = None) -> RunResult:
    """Evaluate ``config.model`` on ``config.benchmark`` with ``config.strategy``.

    ``backends``: a dict kept by the caller and shared between calls, so that several
    evaluations with the same generation settings (one model, several benchmarks) load the
    model once; without one, this call's engines are closed (replicas stopped) when it ends.
    """
    if isinstance(config, dict):
        config = validate_model(config, EvalConfig, source="eval config")
    if backends is None:
        owned: dict = {}
        try:
            return evaluate(config, owned)
        finally:
            close_backends(owned)
    return STRATEGIES.get(config.strategy)().run(config, backends)
