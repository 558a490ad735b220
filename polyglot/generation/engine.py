"""Engine settings: how many GPUs one model spans, how many replicas run, and vLLM's own knobs.

Every place polyglot generates (``polyglot eval``, a data build's teacher, an instruction-model
translator, a distillation's teacher answers and on-policy samples) takes these settings, so a
model larger than one GPU is evaluated and sampled the same way everywhere:

- ``tensor_parallel_size`` / ``pipeline_parallel_size``: GPUs one vLLM engine spans;
- ``data_parallel_size``: independent replicas of the whole engine, each on its own GPUs (its
  own process), over disjoint batches (``polyglot/generation/replicas.py``; the hf backend too);
- ``gpu_memory_utilization``, ``max_model_len``, ``max_lora_rank``, ``enforce_eager``: vLLM's;
- ``engine_args``: any other ``vllm.EngineArgs`` field, checked against the installed vLLM's own
  list when the engine is built (an unknown key is refused with that list, never a traceback).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

import yaml
from pydantic import Field, model_validator

from polyglot.config import ConfigError, StrictModel

# the settings only vLLM reads; the hf backend refuses them (it runs one model per device)
VLLM_ONLY = ("tensor_parallel_size", "pipeline_parallel_size", "gpu_memory_utilization",
             "max_lora_rank", "enforce_eager", "engine_args")  # fmt: skip
# engine settings that can change what is generated (the GPUs' reduction order, the context):
# a run resumes only with the same ones. The others (replicas, memory share, LoRA slot size,
# CUDA graphs) change speed and memory, not the text, so a run may resume with them changed.
RESULT_ENGINE_DEFAULTS: dict[str, Any] = {
    "tensor_parallel_size": 1,
    "pipeline_parallel_size": 1,
    "max_model_len": None,
    "engine_args": {},
}
SPEED_ENGINE_FIELDS = ("data_parallel_size", "gpu_memory_utilization", "max_lora_rank",
                       "enforce_eager")  # fmt: skip
# what polyglot passes to vllm.LLM itself: engine_args may not set them behind its back
SET_BY_POLYGLOT = {"model", "revision", "dtype", "seed", "enable_lora", "tokenizer"}


class EngineSettings(StrictModel):
    """The engine fields shared by every generation settings object (see the module doc)."""

    tensor_parallel_size: int = Field(1, ge=1)
    pipeline_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)  # vLLM's default: 0.9
    max_model_len: int | None = Field(None, ge=1)  # default: the model's own context
    max_lora_rank: int | None = Field(None, ge=1)  # vLLM's default: 16
    enforce_eager: bool = False  # vLLM: no CUDA graphs (less memory, slower decoding)
    engine_args: dict[str, Any] = {}  # any other vllm.EngineArgs field

    @model_validator(mode="after")
    def _engine_fits_backend(self):
        backend = getattr(self, "backend", "vllm")
        if backend == "hf":
            given = [
                name
                for name in VLLM_ONLY
                if getattr(self, name) != EngineSettings.model_fields[name].default
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: vLLM engine settings; the hf backend runs one model "
                    "per device (use backend vllm, or data_parallel_size for replicas)"
                )
        if self.max_lora_rank is not None and getattr(self, "adapter", "") is None:
            raise ValueError("max_lora_rank sizes vLLM's adapter slots: it goes with an adapter")
        named = set(EngineSettings.model_fields) - {"engine_args"}
        for key in self.engine_args:
            if key in named:
                raise ValueError(
                    f"engine_args.{key}: a polyglot setting; give {key} (--"
                    f"{key.replace('_', '-')}) instead"
                )
            if key in SET_BY_POLYGLOT:
                raise ValueError(f"engine_args.{key}: set by polyglot from the run's own settings")
        return self

    def engine(self) -> dict[str, Any]:
        """Every engine setting, as run cards record it."""
        return self.model_dump(mode="json", include=set(EngineSettings.model_fields))

    def identity(self) -> dict[str, Any]:
        """What decides the generated text: every other field, and the engine settings that can
        change it when they are not at their default (what was generated before they existed
        keeps its identity; replicas and memory settings never enter it)."""
        found = self.model_dump(mode="json", exclude=set(EngineSettings.model_fields))
        return {**found, **result_engine(self)}


def result_engine(settings) -> dict[str, Any]:
    """The engine settings of ``settings`` that can change the text, those not at their default
    (identities of cached generations: unchanged for engines on defaults)."""
    return {
        key: getattr(settings, key)
        for key, default in RESULT_ENGINE_DEFAULTS.items()
        if getattr(settings, key, default) != default
    }


LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the adapter slot sizes vLLM serves


def adapter_rank(adapter: str | None) -> int | None:
    """The largest LoRA rank in an adapter folder (its adapter_config.json ``r``, or a larger
    per-module rank of its ``rank_pattern``): what vLLM's adapter slot must hold."""
    import json
    from pathlib import Path

    if not adapter:
        return None
    try:
        config = json.loads((Path(adapter) / "adapter_config.json").read_text())
        pattern = config.get("rank_pattern") or {}
        return max([int(config["r"]), *(int(rank) for rank in pattern.values())])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def vllm_engine_kwargs(settings: EngineSettings, lora: bool) -> dict[str, Any]:
    """The engine keyword arguments of ``vllm.LLM`` beyond the model's own (model, revision,
    dtype, seed, enable_lora): the parallel sizes always, the others only when set; an adapter
    of a rank above vLLM's default slot (16) gets the smallest slot that holds it."""
    kwargs: dict[str, Any] = {
        "tensor_parallel_size": settings.tensor_parallel_size,
        "pipeline_parallel_size": settings.pipeline_parallel_size,
    }
    for name in ("gpu_memory_utilization", "max_model_len"):
        if getattr(settings, name) is not None:
            kwargs[name] = getattr(settings, name)
    if settings.enforce_eager:
        kwargs["enforce_eager"] = True
    if lora and settings.max_lora_rank is not None:
        kwargs["max_lora_rank"] = settings.max_lora_rank
    elif lora:
        rank = adapter_rank(getattr(settings, "adapter", None))
        if rank is not None and rank > 16:
            kwargs["max_lora_rank"] = next((r for r in LORA_RANKS if r >= rank), rank)
    kwargs.update(settings.engine_args)
    return kwargs


def vllm_engine_fields(vllm) -> list[str] | None:
    """The engine argument names the installed vLLM takes (its ``EngineArgs`` fields), or None
    when this vLLM does not say."""
    engine_args = getattr(vllm, "EngineArgs", None)
    if engine_args is not None and dataclasses.is_dataclass(engine_args):
        return sorted(field.name for field in dataclasses.fields(engine_args))
    return None


def check_engine_args(settings: EngineSettings, vllm) -> None:
    """Refuse ``engine_args`` keys the installed vLLM does not take, listing the ones it does
    (``max_lora_rank`` is passed only with an adapter: it sizes vLLM's LoRA slots)."""
    known = vllm_engine_fields(vllm)
    if known is None:
        return
    unknown = [key for key in settings.engine_args if key not in known]
    if unknown:
        version = getattr(vllm, "__version__", "?")
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, known, n=1)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise ConfigError(
            f"engine_args: {', '.join(hints)} not taken by vLLM {version}; its engine arguments "
            f"are: {', '.join(known)}"
        )


def parse_engine_args(pairs: list[str] | None) -> dict[str, Any] | None:
    """``--engine-arg key=value`` pairs into a dict; values read as YAML (``64``, ``true``,
    ``fp8``, ``{"a": 1}``)."""
    if not pairs:
        return None
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"--engine-arg {pair!r}: expected key=value (e.g. max_num_seqs=64)")
        try:
            parsed[key] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            parsed[key] = value
    return parsed


def gpus_per_replica(settings: EngineSettings) -> int:
    return settings.tensor_parallel_size * settings.pipeline_parallel_size
