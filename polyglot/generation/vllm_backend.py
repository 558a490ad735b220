"""Generation with vLLM's offline ``LLM.generate`` (the ``vllm`` extra, GPU only).

Same interface as the hf backend: deterministic chunks of requests, each yielded when done so
results are written as they come. vLLM schedules and batches inside a chunk itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.generation.base import Generation, GenerationSettings, Request, cut_output
from polyglot.generation.engine import check_engine_args, vllm_engine_kwargs
from polyglot.provenance import looks_local, model_identity

CHUNK = 512  # requests per vLLM call: large enough to fill the GPU, small enough to resume


def _import_vllm():
    try:
        import vllm
    except ImportError:
        raise ConfigError(
            "the vllm backend needs vLLM: pip install 'polyglot-reasoning[vllm]' "
            "(GPU machines only), or use --backend hf"
        ) from None
    return vllm


class VLLMBackend:
    name = "vllm"

    def __init__(self, settings: GenerationSettings):
        vllm = _import_vllm()
        if looks_local(settings.model) and not Path(settings.model).exists():
            raise ConfigError(f"no model at '{settings.model}' (not a directory)")
        if settings.adapter and not (Path(settings.adapter) / "adapter_config.json").exists():
            raise ConfigError(f"no PEFT adapter at '{settings.adapter}'")
        check_engine_args(settings, vllm)
        self.settings = settings
        self.engine_kwargs = vllm_engine_kwargs(settings, lora=bool(settings.adapter))
        try:
            self.llm = vllm.LLM(
                model=settings.model,
                revision=settings.revision,
                dtype=settings.dtype,
                seed=settings.seed,
                enable_lora=bool(settings.adapter),
                **self.engine_kwargs,
            )
        except (TypeError, ValueError) as err:  # vLLM's own refusal of a setting (GPU count...)
            shown = ", ".join(f"{k}={v!r}" for k, v in self.engine_kwargs.items())
            raise ConfigError(f"vLLM refused the engine ({shown}): {err}") from None
        self.tokenizer = self.llm.get_tokenizer()  # for chat templates and prompt lengths
        self.max_len = self.llm.llm_engine.model_config.max_model_len
        self.lora = None
        if settings.adapter:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("adapter", 1, str(settings.adapter))

    def describe(self) -> dict:
        s = self.settings
        info = model_identity(s.model, s.adapter, s.revision)
        info.update(backend="vllm", device="cuda", dtype=s.dtype, context=self.max_len,
                    gpus=s.tensor_parallel_size * s.pipeline_parallel_size)  # fmt: skip
        return info

    def batches(self, requests: list[Request]) -> list[list[Request]]:
        ordered = sorted(requests, key=lambda r: r.key)
        return [ordered[i : i + CHUNK] for i in range(0, len(ordered), CHUNK)]

    def generate(self, batches: list[tuple[int, list[Request]]]) -> Iterator[list[Generation]]:
        from vllm import SamplingParams

        s = self.settings
        room = self.max_len - s.max_new_tokens
        if room <= 0:
            raise ConfigError(
                f"max_new_tokens {s.max_new_tokens} leaves no room for a prompt in the model's "
                f"{self.max_len} positions"
            )
        for index, batch in batches:
            lengths = [len(self.tokenizer(r.prompt).input_ids) for r in batch]
            params = [
                SamplingParams(
                    n=s.samples,
                    temperature=s.temperature,
                    top_p=s.top_p,
                    max_tokens=s.max_new_tokens,
                    # a thinking block's blank lines are not the end: cut afterwards instead
                    stop=(r.stop or None) if not r.thinking else None,
                    skip_special_tokens=not r.thinking,
                    seed=s.seed + index * CHUNK + position,
                    # as the hf backend: keep the prompt's end (the question), count the cut
                    truncate_prompt_tokens=room if length > room else None,
                )
                for position, (r, length) in enumerate(zip(batch, lengths, strict=True))
            ]
            started = time.perf_counter()
            results = self.llm.generate(
                [r.prompt for r in batch], params, lora_request=self.lora, use_tqdm=False
            )
            share = (time.perf_counter() - started) / len(batch)
            yield [
                Generation(
                    r.key,
                    [cut_output(o.text, r) for o in result.outputs],
                    [len(o.token_ids) for o in result.outputs],
                    share,
                    index,
                    length,
                    max(0, length - room),
                )
                for r, result, length in zip(batch, results, lengths, strict=True)
            ]
