"""The oldest versions of the libraries polyglot really works with, checked when it is imported.

pip's ranges in pyproject.toml say the same; this check catches an environment where another
package pinned an older version, which would otherwise fail deep inside a run or, worse, run
wrong without a word: before transformers 4.56 ``DynamicCache(config=...)`` and
``from_pretrained(dtype=...)`` do not exist, and packed documents would silently attend across
each other. Reading the installed version costs no import of the library itself.
"""

from __future__ import annotations

import re
from importlib import metadata

MINIMUM = {"transformers": (4, 56, 0), "torch": (2, 4, 0)}


class UnsupportedVersion(ImportError):
    """An installed library is older than polyglot supports; the message is one line."""


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def check_versions(installed=metadata.version) -> None:
    for name, minimum in MINIMUM.items():
        try:
            version = installed(name)
        except metadata.PackageNotFoundError:
            continue  # a missing library fails at its import with its own message
        if _version_tuple(version) < minimum:
            floor = ".".join(map(str, minimum))
            raise UnsupportedVersion(
                f"polyglot needs {name} >= {floor}, but {name} {version} is installed: "
                f"pip install -U '{name}>={floor}'"
            )
