"""Registries: the one place each kind of pluggable piece (strategies, translators, detectors,
merge methods) is found by name.

A piece registers itself where it is defined (``@STRATEGIES.register("clc")``); a registry
imports every module of its package (subpackages too) the first time a name is looked up, so adding a piece is
one new module (plus its test) and nothing else changes. An unknown name is a ``ConfigError``
that lists the known ones and suggests the closest.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar

from polyglot.config import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named pieces of one kind (``what``), defined in the modules of ``package``."""

    def __init__(self, what: str, package: str) -> None:
        self.what = what
        self.package = package
        self._entries: dict[str, T] = {}
        self._discovered = False

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(f"{self.what} '{name}' is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for module in pkgutil.walk_packages(package.__path__, f"{self.package}."):
            importlib.import_module(module.name)

    def names(self) -> list[str]:
        """In the order they were registered (modules alphabetically, then as written)."""
        self._discover()
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        self._discover()
        return name in self._entries

    def get(self, name: str) -> T:
        self._discover()
        if name in self._entries:
            return self._entries[name]
        close = difflib.get_close_matches(name, self._entries, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"unknown {self.what} '{name}'{hint}; known: {', '.join(sorted(self._entries))}"
        )
