"""Names a package exports lazily: each loads with its module on first use, so that importing one
module of the package does not import the whole package (and no import cycle runs through its
``__init__``). A package lists them in ``_EXPORTS`` (name -> module; scripts/house_metrics.py
reads it) and sets ``__getattr__ = exports(__name__, _EXPORTS)``."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def exports(package: str, names: dict[str, str]) -> Callable[[str], object]:
    def __getattr__(name: str) -> object:
        if name in names:
            return getattr(import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
