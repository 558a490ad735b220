"""Where polyglot finds its shipped files (language packs, benchmark definitions, recipes)
and the benchmark data beside a checkout.

In a source checkout these are the top-level ``languages/``, ``eval/`` and ``configs/``
folders; an installed wheel carries copies under ``polyglot/_bundled/``.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def shipped_dir(name: str) -> Path:
    """The folder of shipped files called ``name`` ('languages', 'eval' or 'configs')."""
    for candidate in (PROJECT_ROOT / name, PACKAGE_DIR / "_bundled" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"polyglot's '{name}/' folder is missing from {PROJECT_ROOT}")


def data_dir() -> Path:
    """Root of external benchmark data: $POLYGLOT_DATA_DIR, else ../shared/data beside the checkout."""
    env = os.environ.get("POLYGLOT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return PROJECT_ROOT.parent / "shared" / "data"


def testbed_dir() -> Path:
    """Where the built testbed lives: $POLYGLOT_TESTBED_DIR, else runs/testbed (from the cwd)."""
    return Path(os.environ.get("POLYGLOT_TESTBED_DIR", "runs/testbed")).expanduser()


def recipe_path(path: str | Path) -> Path:
    """A recipe path as given; a ``configs/...`` path that is not found from the cwd is taken
    from polyglot's shipped ``configs/`` (so that shipped recipes run from any folder)."""
    path = Path(path)
    if path.exists() or path.is_absolute() or not path.parts or path.parts[0] != "configs":
        return path
    shipped = shipped_dir("configs").joinpath(*path.parts[1:])
    return shipped if shipped.exists() else path
