"""The typed configuration of one evaluation run (CLI flags, a YAML in configs/eval/, or Python)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from polyglot.config import ConfigError
from polyglot.data.benchmarks import Columns
from polyglot.generation.base import GenerationSettings
from polyglot.generation.engine import RESULT_ENGINE_DEFAULTS, SPEED_ENGINE_FIELDS
from polyglot.generation.registry import check_backend
from polyglot.strategies.base import FLAGS, STRATEGIES
from polyglot.text.thinking import DEFAULT_TAGS
from polyglot.translate.base import check_spec

# Fields that do not change what is generated; a run may be resumed with them changed (the
# engine's replicas and memory settings included: run.json's "engine" keeps every setting).
NON_RESULT_FIELDS = {"out", "overwrite", "progress", *SPEED_ENGINE_FIELDS}
# Strategy fields (and the engine's result fields, RESULT_ENGINE_DEFAULTS), recorded only when
# they are not the default (so that runs made before they existed still resume)
STRATEGY_DEFAULTS = {
    "strategy": "native",
    "translator": None,
    "inject": "replace",
    "detector": None,
    "budget": None,
    "threshold": None,
    "calibration": None,
    "items": None,
    "pivots": None,
}


class EvalConfig(GenerationSettings):
    benchmark: str = "mgsm"  # a name in eval/, a benchmark YAML path, or "custom" with data
    data: str | None = None  # data files instead of the benchmark's ({lang} in the path)
    columns: Columns | None = None  # question / answer / id columns of --data
    languages: list[str] | str = "all"
    mode: Literal["direct", "native-cot", "en-cot"] = "native-cot"
    shots: int = 0
    chat_template: bool = False
    # reasoning models: read the answer after the thinking block. "auto": when the tokenizer's
    # chat template or vocabulary has the closing tag; "on"/"off" force it
    thinking: Literal["auto", "on", "off"] = "auto"
    thinking_tags: tuple[str, str] = DEFAULT_TAGS
    # passed to chat templates that take a thinking switch (Qwen3's enable_thinking)
    enable_thinking: bool | None = None
    limit: int | None = None  # first N items of the benchmark (the same N in every language)
    # cross-lingual inference strategy (polyglot/strategies/): native, or translate-all with a
    # translator (polyglot/translate/) whose English enters by replacing the input or by
    # prefilling the reasoning with it
    strategy: str = "native"  # a name in STRATEGIES (polyglot/strategies/)
    translator: str | None = None
    inject: Literal["replace", "prefill"] = "replace"
    # selective: translate only the items a detector flags (polyglot/strategies/selective/detectors.py),
    # at a fixed threshold or the one that translates at most a budget share of the items
    detector: str | None = None
    budget: float | None = None
    threshold: float | None = None
    # a `polyglot detect train` folder: the detector's max-F1 threshold on its calibration items
    calibration: str | None = None
    items: list[str] | None = None  # only these item ids (the same in every language)
    # clc: the languages whose versions of each item vote with the item's own ("all": every
    # language of the benchmark)
    pivots: list[str] | str | None = None
    out: str = "runs/eval"
    overwrite: bool = False  # recompute a finished (or differently configured) run
    progress: bool = True

    @field_validator("shots", "max_new_tokens", "samples", "batch_size", "batch_tokens")
    @classmethod
    def _non_negative(cls, value: int, info):
        minimum = 0 if info.field_name == "shots" else 1
        if value < minimum:
            raise ValueError(f"must be >= {minimum}")
        return value

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        try:
            return check_backend(value)
        except ConfigError as err:
            raise ValueError(str(err)) from None

    @field_validator("thinking_tags")
    @classmethod
    def _two_tags(cls, value: tuple[str, str]) -> tuple[str, str]:
        if not value[0].strip() or not value[1].strip() or value[0] == value[1]:
            raise ValueError("needs an opening and a closing tag, both non-empty and different")
        return value

    @field_validator("limit")
    @classmethod
    def _positive_limit(cls, value: int | None):
        if value is not None and value < 1:
            raise ValueError("must be >= 1")
        return value

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, values):
        """``self-translate`` and ``clp`` are translate-all with the model's own translation
        (few-shot) or its English restatement (CLP's alignment step); ``clsp`` is clc whose
        pivots are the model's restatements in each pivot language."""
        shorthands = {"self-translate": ("translate-all", "self"),
                      "clp": ("translate-all", "clp"), "clsp": ("clc", "clp")}  # fmt: skip
        known = (*sorted(STRATEGIES.names()), *shorthands)
        if isinstance(values, dict) and values.get("strategy", "native") not in known:
            raise ValueError(f"strategy {values['strategy']!r}: one of {', '.join(known)}")
        if isinstance(values, dict) and values.get("strategy") in shorthands:
            strategy, translator = shorthands[values["strategy"]]
            if values.get("translator") not in (None, translator):
                raise ValueError(
                    f"--strategy {values['strategy']} uses --translator {translator}, not "
                    f"{values['translator']}"
                )
            values = {**values, "strategy": strategy, "translator": translator}
        return values

    @model_validator(mode="after")
    def _strategy_needs(self):
        """The strategy's own settings only, and what its ``check`` asks of them."""
        strategy = STRATEGIES.get(self.strategy)()
        stray = [flag for key, flag in FLAGS.items()
                 if key not in strategy.settings and getattr(self, key) != STRATEGY_DEFAULTS[key]]  # fmt: skip
        if stray:
            takers = [name for name in sorted(STRATEGIES.names())
                      if all(k in STRATEGIES.get(name).settings for k, f in FLAGS.items()
                             if f in stray)]  # fmt: skip
            names = (
                ", ".join(takers[:-1]) + (" or " if len(takers) > 1 else "") + takers[-1]
                if takers
                else ""
            )
            where = f"--strategy {names}" if takers else "no one strategy together"
            verb = "goes" if len(stray) == 1 else "go"
            raise ValueError(f"{', '.join(stray)} {verb} with {where}, not {self.strategy}")
        if self.translator:
            check_spec(self.translator)
        strategy.check(self)
        return self

    def generation(self) -> GenerationSettings:
        return GenerationSettings(**self.model_dump(include=set(GenerationSettings.model_fields)))

    def result_fields(self) -> dict:
        """Everything that determines the generations (compared when a run resumes)."""
        fields = self.model_dump(mode="json", exclude=NON_RESULT_FIELDS)  # as run.json keeps it
        for key, default in {**STRATEGY_DEFAULTS, **RESULT_ENGINE_DEFAULTS}.items():
            if fields.get(key) == default:
                del fields[key]
        return fields
