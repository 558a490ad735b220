"""The typed recipe of ``polyglot train``: a YAML in ``configs/train/`` plus ``key=value``
overrides from the command line, validated into ``TrainRecipe``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from polyglot.config import StrictModel, recipe_data, validate_model
from polyglot.data.benchmarks import load_spec
from polyglot.data.build import DataBuildConfig
from polyglot.generation.engine import EngineSettings
from polyglot.packs import load_pack, parse_languages
from polyglot.train.config import TrainingConfig


class DataSource(StrictModel):
    """One source of training examples. Exactly one of ``path`` (a JSONL file, or a folder made
    by ``polyglot data build``), ``dataset`` (a ``datasets`` id on the hub or a local
    ``datasets`` folder) and ``build`` (a ``polyglot data build`` config, built into the
    output folder's ``_data/`` before training and reused while it is unchanged)."""

    path: str | None = None
    dataset: str | None = None
    build: dict | None = None
    # records without messages: the question's field and the response's (e.g. the testbed's
    # world files: question + cot_en / cot_native / cot_mixed)
    question_field: str = "question"
    response_field: str | None = None
    subset: str | None = None  # the datasets config name
    split: str = "train"
    # how often each example is seen relative to weight 1 (0.5: half of them, 2: twice)
    weight: float = Field(1.0, gt=0)
    languages: list[str] | None = None  # keep only examples in these languages
    limit: int | None = Field(None, ge=1)  # the first N examples (after the language filter)

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: list[str] | None) -> list[str] | None:

        for lang in languages or []:
            load_pack(lang)  # an unknown code is a ValueError naming it
        return languages

    @model_validator(mode="after")
    def _one_location(self) -> DataSource:
        given = [k for k in ("path", "dataset", "build") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'path' (JSONL file or built dataset), 'dataset' (datasets "
                "id) and 'build' (a `polyglot data build` config)"
            )
        if self.build is not None:
            try:
                validate_model({**self.build, "out": "-"}, DataBuildConfig, source="build")
            except Exception as err:  # noqa: BLE001 - the message names the field
                raise ValueError(str(err)) from None
        return self

    def label(self) -> str:
        if self.build is not None:
            return f"build {self.build.get('schema', 'mixed')} {self.build.get('languages')}"
        return self.path or f"{self.dataset}:{self.split}"


class LoraSettings(StrictModel):
    rank: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    # peft's names: "all-linear" (every linear layer but the output head) or a list of module
    # names such as [q_proj, v_proj]
    target_modules: str | list[str] = "all-linear"


class FinetuneSettings(TrainingConfig):
    """``TrainingConfig`` with fine-tuning defaults: no packing, and ``epochs`` as an
    alternative to ``steps``."""

    steps: int | None = Field(None, ge=1)  # type: ignore[assignment]
    epochs: float | None = Field(None, gt=0)
    packing: Literal["none", "documents"] = "none"  # type: ignore[assignment]
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(8, ge=1)
    max_length: int = Field(512, ge=8)

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> FinetuneSettings:
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("give exactly one of 'steps' and 'epochs'")
        return self

    def for_examples(self, rows: int, processes: int = 1) -> TrainingConfig:
        """The plain training config for ``rows`` training rows (epochs turned into steps; each
        of ``processes`` takes ``batch_size`` rows a step)."""
        per_step = self.batch_size * processes
        steps = self.steps or max(1, -(-int(self.epochs * rows) // per_step))
        fields = self.model_dump(exclude={"epochs", "steps"})
        return TrainingConfig(steps=steps, **fields)


class BenchmarkEval(StrictModel):
    name: str = "testbed"  # a benchmark in eval/ (testbed, mgsm, ...)
    languages: list[str] | str = "all"
    data: str | None = None  # local data instead of the benchmark's ({lang}, {split})
    limit: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _known(self) -> BenchmarkEval:
        """An unknown benchmark or language is an error now, not after the training."""

        if self.name == "custom":
            return self
        spec = load_spec(self.name)
        codes = parse_languages(self.languages, spec.languages)
        missing = [c for c in codes if c not in spec.languages]
        if missing:
            raise ValueError(
                f"benchmark '{self.name}' has no language {', '.join(missing)}; it has "
                f"{', '.join(spec.languages)}"
            )
        return self


class EvalSettings(EngineSettings):
    benchmarks: list[BenchmarkEval] = [BenchmarkEval()]
    max_new_tokens: int = Field(160, ge=1)
    # also evaluate every N steps (a checkpoint is saved and evaluated; the figures go to
    # eval_curve.jsonl); None: at the end only
    every: int | None = Field(None, ge=1)
    # the trained model's evaluation: hf, or vllm with the engine settings (tp, dp, ...)
    backend: Literal["hf", "vllm"] = "hf"

    def identity(self) -> dict:
        """The settings as the summary records them (``EngineSettings.identity``; the hf
        backend left out too: a model evaluated before these existed is not evaluated again)."""
        found = super().identity()
        if found["backend"] == "hf":
            del found["backend"]
        return found


class TrainRecipe(StrictModel):
    base: str  # a model folder or a hub id
    data: list[DataSource] = Field(min_length=1)
    method: Literal["lora", "full"] = "lora"
    lora: LoraSettings = LoraSettings()
    # "prompt": examples rendered exactly as `polyglot eval` prompts (prompt_mode, 0-shot);
    # "chat": the tokenizer's chat template
    format: Literal["prompt", "chat"] = "prompt"
    prompt_mode: Literal["direct", "native-cot", "en-cot"] = "native-cot"
    # "response": loss on the answer's tokens only; "all": on the prompt's too
    loss: Literal["response", "all"] = "response"
    training: FinetuneSettings = FinetuneSettings(steps=100)
    eval: EvalSettings | None = EvalSettings()
    device: str = "auto"
    out: str = "runs/train/run"

    def identity(self) -> dict:
        """What decides the trained weights (the output folder and the eval aside)."""
        return self.model_dump(
            mode="json",
            exclude={
                "out": True,
                "eval": True,
                "device": True,
                "training": {"logging_steps", "save_steps"},
            },
        )


def load_recipe(path: str | Path | None, overrides: list[str] | None = None) -> TrainRecipe:
    """A recipe from a YAML file (or nothing) with command-line overrides applied."""
    data, source = recipe_data(path, overrides)
    return validate_model(data, TrainRecipe, source=source)
