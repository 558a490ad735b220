"""Multilingual evaluation: generate, score, summarize and report (``polyglot eval``)."""

from polyglot.evaluate.compare import compare_runs, write_comparison
from polyglot.evaluate.config import EvalConfig
from polyglot.evaluate.run import evaluate
from polyglot.evaluate.runner import RunResult, finish_run

__all__ = ["EvalConfig", "RunResult", "compare_runs", "evaluate", "finish_run", "write_comparison"]
