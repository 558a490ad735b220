"""polyglot: move an LLM's reasoning from English into other languages, and measure how far it got.

One subpackage per capability: ``text`` (numbers and answers in every script), ``detect``
(language identification), ``data`` (benchmarks and prompts), ``generation`` (hf and vLLM
backends), ``evaluate``, ``train``, ``testbed``, ``quickstart`` and ``cli`` (the ``polyglot``
command); shared plumbing in ``files``, ``models`` and ``provenance``. Language-specific
behaviour lives in the packs under ``languages/``.
"""

import sys as _sys
from pathlib import Path as _Path

from polyglot.requirements import UnsupportedVersion, check_versions

__version__ = "0.1.0"

try:
    check_versions()
except UnsupportedVersion as _err:
    # the command line (`polyglot`, `python -m polyglot`): one line, not a traceback
    if _Path(_sys.argv[0]).name in ("polyglot", "__main__.py", "-m"):
        print(f"error: {_err}", file=_sys.stderr)
        raise SystemExit(2) from None
    raise
