"""The typed recipe of ``polyglot distill``: a YAML in ``configs/distill/`` plus ``key=value``
overrides, or the command's flags, validated into ``DistillRecipe``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from polyglot.config import StrictModel, recipe_data, validate_model
from polyglot.generation.engine import EngineSettings
from polyglot.packs import load_pack
from polyglot.train.recipe import EvalSettings, FinetuneSettings, LoraSettings


class ParallelData(StrictModel):
    """Parallel items: one JSONL file per language (``{lang}`` in ``path``; ``{testbed}`` is the
    testbed folder), the same ``id`` in every language, with ``question`` and ``answer`` and,
    for a gold response, the ``response_field``. ``testbed`` is the built testbed's train
    split."""

    path: str = "testbed"
    # or a benchmark in eval/ (mgsm, polymath-low, ...) read as it is: no gold reasoning, so
    # the teacher's answers are the responses (response_field: null)
    benchmark: str | None = None
    languages: list[str] = Field(min_length=1)  # the student's languages
    teacher_language: str = "en"  # the version the teacher reads
    # the response both read after their prompts: a field of the items (the testbed's cot_en,
    # cot_native), or None: the teacher's own answer to its version (generated, kept if right)
    response_field: str | None = "cot_en"
    response_language: str | None = None  # whose row holds the response (default: teacher's)
    limit: int | None = Field(None, ge=1)  # the first N items (per language)

    @field_validator("languages")
    @classmethod
    def _known(cls, languages: list[str]) -> list[str]:

        for lang in languages:
            load_pack(lang)
        if len(set(languages)) != len(languages):
            raise ValueError(f"{languages}: a language twice")
        return languages

    @model_validator(mode="after")
    def _benchmark_has_no_field(self) -> ParallelData:
        if self.benchmark is not None and self.response_field is not None:
            raise ValueError(
                f"benchmark {self.benchmark}: its items carry no reasoning to read; set "
                "response_field: null (the teacher's answers are the responses)"
            )
        return self

    def resolved(self) -> str:
        if self.path == "testbed":
            return "{testbed}/world/train/{lang}.jsonl"
        return self.path


class SequenceSettings(StrictModel):
    """How the teacher's responses are generated (``response_field: null``)."""

    max_new_tokens: int = Field(256, ge=1)
    keep: Literal["correct", "all"] = "correct"  # correct: only right answers are learned


class SamplerSettings(EngineSettings):
    """How the distillation generates: the teacher's answers (``response_field: null``, an
    eval run) and the on-policy samples of the student. ``vllm``: the teacher's answers through
    polyglot's vLLM backend with these engine settings; the on-policy samples through TRL's
    colocated vLLM engine (``trl.generation.vllm_generation``: the student's weights are copied
    into it before each on-policy step), which takes ``tensor_parallel_size``,
    ``gpu_memory_utilization`` (default 0.3: it shares the GPU with training) and
    ``max_model_len``."""

    backend: Literal["hf", "vllm"] = "hf"


class DistillRecipe(StrictModel):
    teacher: str  # a model folder or a hub id
    student: str
    # token: the student matches the teacher's next-token distributions on the response;
    # sequence: the student is fine-tuned (cross-entropy) on the response alone
    level: Literal["token", "sequence"] = "token"
    data: ParallelData
    divergence: Literal["forward-kl", "reverse-kl", "jsd"] = "forward-kl"
    beta: float = Field(0.5, ge=0, le=1)  # jsd: 0 = forward KL, 1 = reverse KL
    temperature: float = Field(1.0, gt=0)  # both softened; the loss is scaled by T²
    ce_weight: float = Field(0.0, ge=0, le=1)  # loss = (1-w)·divergence + w·cross-entropy
    on_policy: float = Field(0.0, ge=0, le=1)  # share of steps on the student's own samples
    on_policy_max_new_tokens: int = Field(128, ge=1)
    teacher_logits: Literal["online", "topk"] = "online"  # topk: precomputed to disk, reused
    # the teacher's weights in memory ("auto": bfloat16 on a GPU, float32 on the CPU); its
    # logits are read in float32 either way
    teacher_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    top_k: int = Field(64, ge=1)
    same_prompt: bool = False  # the teacher reads the student's prompt (TRL GKD's setting)
    sequence: SequenceSettings = SequenceSettings()
    generation: SamplerSettings = SamplerSettings()
    # the response as both read it: the English reasoning as it is, or (polyglot data build's
    # schemas) with the question's entities and answer in the student's language (mixed), or a
    # share of its terms switched (code-switch); native reasoning: response_field cot_native
    response_schema: Literal["english-cot", "mixed", "code-switch"] = "english-cot"
    # the training core's words (polyglot/train/core.py): the student is the base it trains;
    # a distillation's prompts are plain text, never a chat
    format: ClassVar[str] = "prompt"
    method: Literal["lora", "full"] = "full"
    lora: LoraSettings = LoraSettings()
    prompt_mode: Literal["direct", "native-cot", "en-cot"] = "native-cot"
    training: FinetuneSettings = FinetuneSettings(steps=100)
    eval: EvalSettings | None = EvalSettings()
    device: str = "auto"
    out: str = "runs/distill/run"

    @model_validator(mode="after")
    def _consistent(self) -> DistillRecipe:
        if self.level == "sequence":
            changed = [
                name
                for name, default in (("on_policy", 0.0), ("teacher_logits", "online"),
                                      ("same_prompt", False), ("ce_weight", 0.0),
                                      ("temperature", 1.0), ("divergence", "forward-kl"),
                                      ("beta", 0.5))
                if getattr(self, name) != default
            ]  # fmt: skip
            if changed:
                raise ValueError(
                    f"{', '.join(changed)}: token-level settings; level 'sequence' fine-tunes "
                    "on the responses alone"
                )
        g = self.generation
        engine = [name for name, field in EngineSettings.model_fields.items()
                  if getattr(g, name) != field.default]  # fmt: skip
        answers = self.data.response_field is None  # the teacher's answers: an eval run
        if not answers and self.on_policy == 0 and (engine or g.backend != "hf"):
            raise ValueError(
                "generation: nothing is generated (the responses are data.response_field's, "
                "no on-policy steps); drop it"
            )
        if not answers and g.backend == "hf" and engine:
            raise ValueError(
                f"generation.{', generation.'.join(engine)}: the hf on-policy samples take no "
                "engine settings (they apply to the teacher's answers, data.response_field: "
                "null, or to backend vllm)"
            )
        if self.on_policy > 0 and g.backend == "vllm":
            other = [name for name in ("pipeline_parallel_size", "data_parallel_size",
                                       "max_lora_rank", "enforce_eager", "engine_args")
                     if getattr(g, name) != EngineSettings.model_fields[name].default]  # fmt: skip
            if other:
                raise ValueError(
                    f"generation.{', generation.'.join(other)}: on-policy samples come from "
                    "TRL's colocated vLLM engine, which takes tensor_parallel_size, "
                    "gpu_memory_utilization and max_model_len (one engine per training process)"
                )
        if self.on_policy > 0 and self.teacher_logits == "topk":
            raise ValueError(
                "teacher_logits 'topk' precomputes the teacher on fixed responses; on-policy "
                "samples are new each step: use teacher_logits 'online'"
            )
        if (
            self.level == "token"
            and self.data.teacher_language in self.data.languages
            and not self.same_prompt
        ):
            raise ValueError(
                f"data.languages: '{self.data.teacher_language}' is the teacher's language; "
                "cross-lingual distillation teaches the other languages (same_prompt: true for "
                "plain distillation)"
            )
        return self

    @property
    def base(self) -> str:
        return self.student

    def identity(self) -> dict:
        """What decides the distilled weights (the output folder and the eval aside); settings
        added later are recorded only when not their default (older folders stay reusable)."""
        found = self.model_dump(
            mode="json",
            exclude={"out": True, "eval": True, "device": True,
                     "training": {"logging_steps", "save_steps"}},
        )  # fmt: skip
        for key, default in (("teacher_dtype", "auto"), ("response_schema", "english-cot")):
            if found.get(key) == default:
                del found[key]
        # how samples are generated decides them only where there are samples: the teacher's
        # answers (response_field null) and on-policy steps; speed settings never
        sampled = self.data.response_field is None or self.on_policy > 0
        generation = self.generation.identity()
        if not sampled or generation == {"backend": "hf"}:
            del found["generation"]
        else:
            found["generation"] = generation
        if found["data"].get("benchmark") is None:
            found["data"].pop("benchmark", None)
        return found


def load_distill_recipe(path=None, overrides: list[str] | None = None) -> DistillRecipe:
    data, source = recipe_data(path, overrides)
    return validate_model(data, DistillRecipe, source=source)
