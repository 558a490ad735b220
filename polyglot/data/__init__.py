"""Benchmarks and prompts: parallel multilingual datasets and the prompts built from them."""

from polyglot.data.benchmarks import (
    BenchmarkSpec,
    Example,
    Exemplar,
    ParallelDataset,
    load_benchmark,
    load_spec,
)
from polyglot.data.prompts import MODES, Prompt, build_prompt, render_prompt

__all__ = [
    "MODES",
    "BenchmarkSpec",
    "Example",
    "Exemplar",
    "ParallelDataset",
    "Prompt",
    "build_prompt",
    "load_benchmark",
    "load_spec",
    "render_prompt",
]
