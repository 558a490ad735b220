"""Multilingual evaluation: generate, score, summarize and report (``polyglot eval``).

The names below load with their module on first use, so that importing one module of this
package (the reports read ``polyglot.evaluate.results``) does not import all of it."""

from polyglot.lazy import exports

_EXPORTS = {
    "EvalConfig": "polyglot.evaluate.config",
    "RunResult": "polyglot.evaluate.runner",
    "compare_runs": "polyglot.evaluate.compare",
    "evaluate": "polyglot.evaluate.run",
    "finish_run": "polyglot.evaluate.runner",
    "write_comparison": "polyglot.evaluate.compare",
}
__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS)
