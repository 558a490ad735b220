"""How every command reads its settings: ``--config FILE``, then ``key=value`` overrides (dotted
keys; a number indexes a list, e.g. ``merges.0.bottom=2``), then the flags, which are thin
aliases of config keys (a flag left out is not a value). Defaults live in the config classes
only; ``--help`` shows them from there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from polyglot.config import ConfigError, merge_overrides, parse_overrides, recipe_data

OVERRIDES = typer.Argument(
    None,
    help="Config overrides as dotted key=value, e.g. limit=100 languages=\\[en,sw] (values "
    "are read as YAML; a number indexes a list).",
    show_default=False,
)


def settings_from(config: Path | None, overrides: list[str] | None, flags: dict[str, Any]):
    """The settings dict and the source to name in errors: the file, its overrides, then the
    flags that were given (``flags``: config key, dotted for nested ones -> value or None)."""
    data, source = recipe_data(config, overrides)
    overridden = parse_overrides(overrides or [])
    given: dict[str, Any] = {}
    for key, value in flags.items():
        if value is None:
            continue
        said = _dotted(overridden, key)
        if said is not _MISSING and said != value:
            raise ConfigError(
                f"{key} is given twice: as a flag ({value!r}) and as {key}={said!r}; give one"
            )
        target = given
        *parents, last = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return merge_overrides(data, given), source


_MISSING = object()


def _dotted(nested: dict, key: str):
    for part in key.split("."):
        if not isinstance(nested, dict) or part not in nested:
            return _MISSING
        nested = nested[part]
    return nested


def default_of(model: type[BaseModel], field: str) -> Any:
    """A config class's default for ``field`` (dotted for a nested model's field)."""
    head, _, rest = field.partition(".")
    info = model.model_fields[head]
    if rest:
        return default_of(info.annotation, rest)  # a nested config model
    if info.default is PydanticUndefined and info.default_factory is not None:
        return info.default_factory()
    return info.default


def with_default(text: str, model: type[BaseModel], field: str) -> str:
    """Help text with the config class's default appended."""
    value = default_of(model, field)
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return f"{text} \\[default: {value}]"  # escaped: rich would read [..] as markup
