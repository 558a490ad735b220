"""polyglot: move an LLM's reasoning from English into other languages, and measure how far it got.

The package is organised by capability: ``text`` (numbers and answers in every script),
``detect`` (language identification), ``data`` (benchmarks and prompts), ``cli`` (the
``polyglot`` command). Language-specific behaviour lives in the packs under ``languages/``.
"""

__version__ = "0.1.0"
