"""Plain YAML validated into typed objects, with errors a person can act on.

Every shipped YAML (language packs, benchmark definitions, recipes) goes through
``load_yaml_model``: a syntax error names the file and line, a bad value names the file and the
dotted field, and an unknown key suggests the closest known one.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A YAML file or a config value is wrong; the message names the file and the field."""


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors, objects are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_text(path: str | Path, what: str) -> str:
    """A UTF-8 file's text; a folder, a missing file or binary bytes are a ``ConfigError``
    naming the file and what was expected there."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected a {what}")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected a {what})") from None


def read_yaml(path: Path) -> Any:
    text = read_text(path, "YAML file")
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError(f"{path}: invalid YAML at {where}: {err.problem}") from None


def load_yaml_model(path: Path, model: type[M], **extra: Any) -> M:
    """Read ``path`` and validate it as ``model``; ``extra`` fills keys the file may omit."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return validate_model({**extra, **data}, model, source=str(path))


def validate_model(data: dict[str, Any], model: type[M], source: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, model, source)) from None


def format_validation_error(err: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = []
    for problem in err.errors():
        loc = problem["loc"]
        field = ".".join(str(part) for part in loc).replace("schema_", "schema")
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            known = _field_names_at(model, loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")
            if known:
                message += f"; known keys: {', '.join(sorted(known))}"
        lines.append(f"{source}: field '{field}': {message}" if field else f"{source}: {message}")
    return "\n".join(lines)


def _field_names_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names of the nested model found by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _nested_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _nested_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["training.steps=200", "merges.0.bottom=2"]`` as a nested dict (values read as YAML;
    a number between dots indexes a list)."""
    nested: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{pair}': expected key=value, e.g. training.steps=200")
        try:
            parsed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            parsed = value
        target = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"override '{pair}': '{part}' is set twice")
        target[parts[-1]] = parsed
    return nested


def merge_overrides(base: dict, overrides: dict, prefix: str = "") -> dict:
    """``base`` with ``overrides`` (from ``parse_overrides``) applied; a list is indexed by the
    numbers in an override's key (``data.0.path``)."""
    merged = dict(base)
    for key, value in overrides.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = merge_overrides(current, value, f"{prefix}{key}.")
        elif isinstance(value, dict) and isinstance(current, list) and value:
            items = list(current)
            for index, change in value.items():
                i = int(index) if str(index).isdigit() else -1
                if not 0 <= i < len(items):
                    raise ConfigError(
                        f"override {prefix}{key}.{index}: {prefix}{key} has {len(items)} "
                        f"item(s), numbered from 0"
                    )
                items[i] = (
                    merge_overrides(items[i], change, f"{prefix}{key}.{i}.")
                    if isinstance(change, dict) and isinstance(items[i], dict)
                    else change
                )
            merged[key] = items
        else:
            merged[key] = value
    return merged


def recipe_data(path: str | Path | None, overrides: list[str] | None = None) -> tuple[dict, str]:
    """A config YAML (or nothing) as a dict with ``key=value`` overrides applied, and the source
    to name in errors: how every command reads ``--config`` and its overrides."""
    data: dict = {}
    source = "command line"
    if path is not None:
        data = read_yaml(Path(path))
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        source = str(path)
    if overrides:
        data = merge_overrides(data, parse_overrides(overrides))
        source += " (with overrides)" if path is not None else ""
    return data, source
