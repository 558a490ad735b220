"""The typed recipe of ``polyglot merge run``: a YAML in ``configs/merge/`` (plus ``key=value``
overrides) naming the base, how each expert is obtained, the merges to make, an optional
(bottom, top) grid of layer swaps, and the evaluation every model gets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from polyglot.config import ConfigError, StrictModel, recipe_data, validate_model
from polyglot.evaluate import EvalConfig
from polyglot.merge.methods import MERGE_METHODS
from polyglot.resources import recipe_path

ROLES = ("math", "language")


class ExpertSource(StrictModel):
    """An expert: an existing full checkpoint (``path``), or a ``polyglot train`` recipe
    (``train``: its file, or the recipe itself inline; ``key=value`` ``overrides``) trained into
    ``OUT/experts/<role>``."""

    path: str | None = None
    train: str | dict | None = None
    overrides: list[str] = []

    @model_validator(mode="after")
    def _one(self) -> ExpertSource:
        if (self.path is None) == (self.train is None):
            raise ValueError("give exactly one of 'path' (a checkpoint) and 'train' (a recipe)")
        return self


class MergeSpec(StrictModel):
    """One merge. ``layer-swap`` takes ``bottom``/``top`` (a number, or ``suggested``: the
    per-layer analysis' suggestion), ``transition``, ``embeddings`` and ``lm_head``; ``soup``,
    ``ties`` and ``task-arithmetic`` merge the two experts with ``weights`` (and ``density`` for
    TIES)."""

    method: str  # a name in MERGE_METHODS: layer-swap, soup, ties, task-arithmetic
    name: str | None = None
    bottom: int | Literal["suggested"] | None = Field(None)
    top: int | Literal["suggested"] | None = Field(None)
    transition: int = Field(0, ge=0)
    ramp: list[float] | None = None  # transition weights (default: a linear ramp)
    embeddings: Literal["language", "math"] = "language"
    lm_head: Literal["language", "math"] = "language"
    weights: list[float] | None = None
    density: float = Field(0.5, gt=0, le=1)

    @model_validator(mode="after")
    def _fits_method(self) -> MergeSpec:
        swap = MERGE_METHODS.get(self.method).swaps_layers
        if swap and (self.bottom is None or self.top is None):
            raise ValueError("layer-swap needs 'bottom' and 'top' (a number or 'suggested')")
        if not swap and (self.bottom is not None or self.top is not None or self.transition):
            raise ValueError(f"{self.method} takes no bottom/top/transition (layer-swap does)")
        if self.ramp is not None and (not swap or len(self.ramp) != self.transition):
            raise ValueError("ramp: one weight per transition layer (layer-swap only)")
        if swap and self.weights is not None:
            raise ValueError("layer-swap takes no weights (soup, ties, task-arithmetic do)")
        for value in (self.bottom, self.top):
            if isinstance(value, int) and value < 0:
                raise ValueError("bottom and top are >= 0")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9][\w.-]*", self.name):
            raise ValueError(f"name '{self.name}': letters, digits, '.', '_', '-' only")
        return self


class GridSpec(StrictModel):
    """Every (bottom, top) pair of layer swaps, each evaluated, shown as a heatmap."""

    bottom: list[int]
    top: list[int]
    transition: int = Field(0, ge=0)

    @field_validator("bottom", "top")
    @classmethod
    def _values(cls, values: list[int]) -> list[int]:
        if not values or min(values) < 0:
            raise ValueError("a non-empty list of numbers >= 0")
        return sorted(set(values))


class MergeRecipe(StrictModel):
    base: str | None = None  # the experts' base: needed by the analysis, TIES, task arithmetic
    experts: dict[Literal["math", "language"], ExpertSource]
    merges: list[MergeSpec] = []
    grid: GridSpec | None = None
    eval: dict | None = None  # polyglot eval settings (EvalConfig's fields but model and out)
    out: str

    @field_validator("experts", mode="before")
    @classmethod
    def _paths(cls, experts: Any) -> Any:
        if isinstance(experts, dict):
            return {k: {"path": v} if isinstance(v, str) else v for k, v in experts.items()}
        return experts

    @field_validator("eval")
    @classmethod
    def _eval(cls, settings: dict | None) -> dict | None:
        if settings is None:
            return None

        taken = {"model", "out", "adapter", "progress", "overwrite"} & set(settings)
        if taken:
            raise ValueError(
                f"{', '.join(sorted(taken))}: set by merge run for each model (--quiet, "
                "--overwrite)"
            )
        try:
            validate_model({**settings, "model": "-"}, EvalConfig, source="eval")
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return settings

    @model_validator(mode="after")
    def _complete(self) -> MergeRecipe:
        missing = [r for r in ROLES if r not in self.experts]
        if missing and (
            self.grid or any(MERGE_METHODS.get(m.method).swaps_layers for m in self.merges)
        ):
            raise ValueError(f"layer swapping needs both experts; missing: {', '.join(missing)}")
        if len(self.experts) < 2 and self.merges:
            raise ValueError("merges need both experts (math and language)")
        needs_base = [m.method for m in self.merges if MERGE_METHODS.get(m.method).needs_base]
        suggested = any("suggested" in (m.bottom, m.top) for m in self.merges)
        if self.base is None and (needs_base or suggested):
            why = ", ".join(needs_base) or "the suggested swap (the analysis)"
            raise ValueError(f"'base' is needed by {why}")
        names = [merge_name(m) for m in self.merges]
        reserved = sorted(set(names) & {"base", "math-expert", "language-expert"})
        if reserved:
            raise ValueError(f"a merge may not be named {reserved[0]} (the report's own row)")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two merges are named {twice[0]}: give one a 'name'")
        return self


def swap_name(
    bottom: int, top: int, transition: int = 0, embeddings="language", lm_head="language", ramp=None
) -> str:
    """The folder name of a swap, e.g. ``swap-b1-u1-t1``."""
    name = f"swap-b{bottom}-u{top}" + (f"-t{transition}" if transition else "")
    if ramp is not None:
        name += "-ramp" + "-".join(f"{w:g}" for w in ramp)
    if embeddings != "language" or lm_head != "language":
        name += f"-emb-{embeddings}-head-{lm_head}"
    return name


def merge_name(spec: MergeSpec) -> str:
    if spec.name:
        return spec.name
    if not MERGE_METHODS.get(spec.method).swaps_layers:
        return spec.method
    if "suggested" in (spec.bottom, spec.top):
        return "swap-suggested"
    return swap_name(
        spec.bottom, spec.top, spec.transition, spec.embeddings, spec.lm_head, spec.ramp
    )


def parse_grid(parts: list[str]) -> dict:
    """``["bottom=1..3", "top=0,2"]`` (or one string with both) as grid settings."""
    grid: dict[str, Any] = {}
    for part in " ".join(parts).split():
        key, sep, value = part.partition("=")
        if not sep or key not in ("bottom", "top", "transition"):
            raise ConfigError(
                f"--grid '{part}': expected bottom=A..B, top=A..B (or a,b,c), transition=N"
            )
        try:
            if key == "transition":
                grid[key] = int(value)
            elif ".." in value:
                low, high = (int(v) for v in value.split(".."))
                grid[key] = list(range(low, high + 1))
            else:
                grid[key] = [int(v) for v in value.split(",")]
        except ValueError:
            raise ConfigError(f"--grid '{part}': numbers expected, e.g. {key}=0..2") from None
    missing = {"bottom", "top"} - set(grid)
    if missing:
        raise ConfigError(f"--grid: give {' and '.join(sorted(missing))} too (e.g. top=0..2)")
    return grid


def load_merge_recipe(
    path: str | Path, overrides: list[str] | None = None, grid: list[str] | None = None
) -> MergeRecipe:

    data, source = recipe_data(recipe_path(path), overrides)
    if grid:
        data = {**data, "grid": parse_grid(grid)}
    return validate_model(data, MergeRecipe, source=source)
