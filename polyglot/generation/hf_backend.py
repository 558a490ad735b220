"""Generation with Hugging Face transformers: batched, left-padded, KV-cached ``generate``.

Requests are sorted by prompt length and packed into batches under a sequence and a token
budget (``batch_size``, ``batch_tokens``), so short prompts run in wide batches and long ones
in narrow ones. The batches depend only on the requests and the settings, and each batch is
seeded by its index, so a resumed run recomputes exactly what an uninterrupted run would.
Every sequence stops at its own stop strings (checked on the decoded tail) or at EOS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.generation.base import Generation, GenerationSettings, Request, cut_at_stop
from polyglot.generation.identity import describe_model, looks_local


def _pick_device(requested: str) -> str:
    import torch

    if requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device '{requested}' asked for, but no CUDA GPU is available")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def _pick_dtype(requested: str, device: str):
    import torch

    if requested == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
        requested
    ]


def load_model_and_tokenizer(settings: GenerationSettings, device: str = "cpu", dtype=None):
    """``from_pretrained`` for the model (plus its PEFT adapter, merged), with clear errors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if looks_local(settings.model) and not Path(settings.model).exists():
        raise ConfigError(f"no model at '{settings.model}' (not a directory)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(settings.model, revision=settings.revision)
        model = AutoModelForCausalLM.from_pretrained(
            settings.model, dtype=dtype, revision=settings.revision
        )
    except OSError as err:
        raise ConfigError(f"could not load model '{settings.model}': {err}") from None
    if settings.adapter:
        model = _attach_adapter(model, settings)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.to(device)
    model.eval()
    return model, tokenizer


def _attach_adapter(model, settings: GenerationSettings):
    from peft import PeftModel

    adapter = Path(settings.adapter or "")
    if not (adapter / "adapter_config.json").exists():
        raise ConfigError(f"no PEFT adapter at '{adapter}' (adapter_config.json missing)")
    try:
        model = PeftModel.from_pretrained(model, adapter)
    except (RuntimeError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0][:300]
        raise ConfigError(
            f"adapter '{adapter}' does not fit model '{settings.model}' (trained for another "
            f"base?): {first}"
        ) from None
    return model.merge_and_unload()


class _StopOnStrings:
    """Per-sequence stopping: a row is done when its decoded tail contains one of its stops."""

    def __init__(self, tokenizer, stops: list[list[str]], prompt_length: int, samples: int):
        self.tokenizer = tokenizer
        self.stops = [s for s in stops for _ in range(samples)]  # rows repeat per sample
        longest = max((len(s) for row in stops for s in row), default=0)
        self.window = 4 * longest + 4  # byte-fallback tokens can be a third of a character
        self.prompt_length = prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.window:
            return done
        tails = input_ids[:, max(self.prompt_length, input_ids.shape[1] - self.window) :]
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        for row, (text, stops) in enumerate(zip(texts, self.stops, strict=True)):
            if any(s in text for s in stops):
                done[row] = True
        return done


class HFBackend:
    name = "hf"

    def __init__(self, settings: GenerationSettings):
        self.settings = settings
        self.device = _pick_device(settings.device)
        self.dtype = _pick_dtype(settings.dtype, self.device)
        self.model, self.tokenizer = load_model_and_tokenizer(settings, self.device, self.dtype)
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)
        self._encoded: dict[str, list[int]] = {}

    def describe(self) -> dict:
        info = describe_model(self.settings, self.model)
        info.update(backend="hf", device=self.device, dtype=str(self.dtype).replace("torch.", ""))
        return info

    def _encode(self, prompt: str) -> list[int]:
        """Token ids of a prompt, tokenized once (``batches`` and generation both need them)."""
        ids = self._encoded.get(prompt)
        if ids is None:
            bos = self.tokenizer.bos_token
            add_special = not (bos and prompt.startswith(bos))  # a chat template may include BOS
            ids = self._encoded[prompt] = self.tokenizer(
                prompt, add_special_tokens=add_special
            ).input_ids
        return ids

    def batches(self, requests: list[Request]) -> list[list[Request]]:
        s = self.settings
        lengths = {r.key: len(self._encode(r.prompt)) for r in requests}
        order = sorted(requests, key=lambda r: (-lengths[r.key], r.key))
        batches: list[list[Request]] = []
        current: list[Request] = []
        widest = 0
        for request in order:
            width = max(widest, lengths[request.key]) + s.max_new_tokens
            fits = (len(current) + 1) * s.samples * width <= s.batch_tokens
            if current and (len(current) >= s.batch_size or not fits):
                batches.append(current)
                current, widest = [], 0
            current.append(request)
            widest = max(widest, lengths[request.key])
        if current:
            batches.append(current)
        return batches

    def generate(self, batches: list[tuple[int, list[Request]]]) -> Iterator[list[Generation]]:
        for index, batch in batches:
            yield self._run_batch(index, batch)

    def _run_batch(self, index: int, batch: list[Request]) -> list[Generation]:
        import torch

        started = time.perf_counter()
        try:
            outputs = self._generate_texts(index, batch)
        except torch.cuda.OutOfMemoryError:
            if len(batch) == 1:
                raise
            torch.cuda.empty_cache()  # halve the batch and go on; results stay per request
            half = len(batch) // 2
            outputs = self._generate_texts(index, batch[:half]) + self._generate_texts(
                index, batch[half:]
            )
        share = (time.perf_counter() - started) / len(batch)
        return [
            Generation(r.key, texts, counts, share, index)
            for r, (texts, counts) in zip(batch, outputs, strict=True)
        ]

    def _generate_texts(
        self, index: int, batch: list[Request]
    ) -> list[tuple[list[str], list[int]]]:
        import torch
        from transformers import StoppingCriteriaList

        s = self.settings
        encoded = [self._encode(r.prompt) for r in batch]
        if self.max_positions:
            room = self.max_positions - s.max_new_tokens
            if room <= 0:
                raise ConfigError(
                    f"max_new_tokens {s.max_new_tokens} leaves no room for a prompt in the "
                    f"model's {self.max_positions} positions"
                )
            encoded = [ids[-room:] for ids in encoded]  # keep the end: the question
        padded = self.tokenizer.pad({"input_ids": encoded}, return_tensors="pt")
        input_ids = padded["input_ids"].to(self.device)
        attention = padded["attention_mask"].to(self.device)
        prompt_length = input_ids.shape[1]
        stopper = _StopOnStrings(self.tokenizer, [r.stop for r in batch], prompt_length, s.samples)
        sampling = s.temperature > 0
        torch.manual_seed(s.seed + index)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=s.max_new_tokens,
                do_sample=sampling,
                temperature=s.temperature if sampling else None,
                top_p=s.top_p if sampling else None,
                top_k=None,
                num_return_sequences=s.samples,
                stopping_criteria=StoppingCriteriaList([stopper]),
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[:, prompt_length:].tolist()
        pad, eos = self.tokenizer.pad_token_id, self.tokenizer.eos_token_id
        results = []
        for row, request in enumerate(batch):
            texts, counts = [], []
            for k in range(s.samples):
                ids = new[row * s.samples + k]
                if eos in ids:
                    ids = ids[: ids.index(eos)]
                while ids and ids[-1] == pad:
                    ids = ids[:-1]
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                texts.append(cut_at_stop(text, request.stop))
                counts.append(len(ids))
            results.append((texts, counts))
        return results
