"""A stand-in for vLLM on a GPU (tests of what the CPU build cannot run: several GPUs, tensor
and pipeline parallelism, GPU memory shares): the engine arguments it is built with
and the sampling parameters it is asked for are appended to $FAKE_VLLM_LOG as JSON lines, and
it "generates" a fixed answer, so polyglot's vLLM paths run end to end in the tests."""

from __future__ import annotations

import dataclasses
import json
import os
from types import SimpleNamespace

__version__ = "0.0.0+fake"


@dataclasses.dataclass
class EngineArgs:  # a few of the real fields: enough to check names against
    model: str = ""
    revision: str | None = None
    dtype: str = "auto"
    seed: int = 0
    enable_lora: bool = False
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    max_lora_rank: int = 16
    enforce_eager: bool = False
    max_num_seqs: int | None = None
    kv_cache_memory_bytes: int | None = None
    kv_cache_dtype: str = "auto"
    swap_space: float = 4


def _log(**entry) -> None:
    path = os.environ.get("FAKE_VLLM_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")


class SamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)


class LLM:
    def __init__(self, model: str, **kwargs):
        known = {f.name for f in dataclasses.fields(EngineArgs)}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f"EngineArgs.__init__() got an unexpected keyword argument {unknown}")
        if kwargs.get("tensor_parallel_size", 1) > 8:
            raise ValueError("The number of required GPUs exceeds the total number of GPUs")
        from transformers import AutoTokenizer

        self.model = model
        self.kwargs = kwargs
        self._tokenizer = AutoTokenizer.from_pretrained(model)
        context = kwargs.get("max_model_len") or 512
        self.llm_engine = SimpleNamespace(
            model_config=SimpleNamespace(max_model_len=context, dtype=kwargs.get("dtype"))
        )
        _log(
            event="engine",
            model=model,
            kwargs=kwargs,
            visible=os.environ.get("CUDA_VISIBLE_DEVICES"),
            pid=os.getpid(),
        )

    def get_tokenizer(self):
        return self._tokenizer

    def generate(self, prompts, params, lora_request=None, use_tqdm=True):
        results = []
        if not isinstance(params, list | tuple):  # one set for every prompt, as vLLM takes it
            params = [params] * len(prompts)
        for prompt, p in zip(prompts, params, strict=True):
            ids = prompt["prompt_token_ids"]  # polyglot hands token ids
            text = f"Step by step. The answer is {len(ids) % 10}."
            ids = self._tokenizer(text, add_special_tokens=False).input_ids[: p.max_tokens]
            outputs = [SimpleNamespace(text=text, token_ids=ids, finish_reason="length")
                       for _ in range(p.n)]  # fmt: skip
            results.append(SimpleNamespace(outputs=outputs))
        _log(
            event="generate",
            n=len(prompts),
            seeds=[p.seed for p in params],
            lora=getattr(lora_request, "path", None),
            pid=os.getpid(),
        )
        return results
