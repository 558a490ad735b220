"""Generation with Hugging Face transformers: batched, left-padded, KV-cached decoding.

Requests are sorted by prompt length and packed into batches under a sequence and a token
budget (``batch_size``, ``batch_tokens``), so short prompts run in wide batches and long ones
in narrow ones. The batches depend only on the requests and the settings, and each batch is
seeded by its index, so a resumed run recomputes exactly what an uninterrupted run would.
Every sequence stops at its own stop strings (checked on the decoded tail) or at EOS, and
leaves the batch (and its KV cache) at once, so long outputs never make short ones pay: the
decoding loop here is the one thing ``model.generate`` does not do (it keeps computing
finished rows until the whole batch is done). Decoding uses exactly the given settings
(greedy, or temperature and top-p); a checkpoint's ``generation_config`` sampling defaults
(top-k, repetition penalty) are not applied.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

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
from polyglot.models import load_model_and_tokenizer, pick_device, pick_dtype
from polyglot.provenance import model_identity


class _StopStrings:
    """Per-row stop strings, checked on the decoded tail of each row's new tokens; for a
    reasoning model's request, only outside its thinking block (tracked from the tags seen)."""

    def __init__(self, tokenizer, requests: list[Request]):
        self.tokenizer = tokenizer
        self.stops = [r.stop for r in requests]
        self.thinking = [r.thinking for r in requests]
        self.inside = [bool(r.thinking) and r.opened for r in requests]
        longest = max(
            [len(s) for r in requests for s in r.stop]
            + [len(t) for r in requests for t in (r.thinking or ())],
            default=0,
        )
        self.window = 4 * longest + 4  # byte-fallback tokens can be a third of a character

    def hits(self, rows: list[int], tokens: list[list[int]]) -> list[bool]:
        """Whether each of ``rows`` has produced one of its stop strings (one batched decode)."""
        checked = [row for row in rows if self.stops[row]]
        if not checked:
            return [False] * len(rows)
        extra = {tag for row in checked for tag in (self.thinking[row] or ())}
        tails = decode_keeping_tags(
            self.tokenizer, [tokens[row][-self.window :] for row in checked], extra
        )
        hit = {}
        for row, tail in zip(checked, tails, strict=True):
            tags = self.thinking[row]
            if tags:
                opens, closes = tail.rfind(tags[0]), tail.rfind(tags[1])
                if opens != -1 or closes != -1:
                    self.inside[row] = opens > closes
                if self.inside[row]:
                    hit[row] = False
                    continue
                # after "</think>" the answer follows a blank line: that is not a stop
                tail = tail[closes + len(tags[1]) :].lstrip() if closes != -1 else tail
            hit[row] = any(stop in tail for stop in self.stops[row])
        return [hit.get(row, False) for row in rows]


class HFBackend:
    name = "hf"

    def __init__(self, settings: GenerationSettings):
        self.settings = settings
        self.device = pick_device(settings.device)
        self.dtype = pick_dtype(settings.dtype, self.device)
        self.model, self.tokenizer = load_model_and_tokenizer(
            settings.model,
            adapter=settings.adapter,
            revision=settings.revision,
            dtype=settings.dtype,
            device=self.device,
        )
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)
        if settings.max_model_len is not None:  # a shorter context than the model's own
            if self.max_positions and settings.max_model_len > self.max_positions:
                raise ConfigError(
                    f"max_model_len {settings.max_model_len} is longer than the model's "
                    f"{self.max_positions} positions"
                )
            self.max_positions = settings.max_model_len
        self._prompt_room()  # max_new_tokens must leave room for a prompt: say so before work
        self._encoded: dict[str, list[int]] = {}
        self._eos = eos_ids(self.model.generation_config, self.tokenizer)

    def describe(self) -> dict:
        s = self.settings
        info = model_identity(s.model, s.adapter, s.revision)
        info["revision"] = s.revision or getattr(self.model.config, "_commit_hash", None)
        info.update(
            parameters=sum(p.numel() for p in self.model.parameters()),
            backend="hf",
            device=self.device,
            dtype=str(self.dtype).replace("torch.", ""),
            context=self.max_positions,
        )
        return info

    def _encode(self, prompt: str) -> list[int]:
        """Token ids of a prompt, tokenized once (``batches`` and generation both need them)."""
        ids = self._encoded.get(prompt)
        if ids is None:
            ids = self._encoded[prompt] = encode_prompt(self.tokenizer, prompt)
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
        room = self._prompt_room()
        generations = []
        for r, (texts, counts) in zip(batch, outputs, strict=True):
            length = len(self._encode(r.prompt))
            cut = max(0, length - room) if room else 0
            generations.append(Generation(r.key, texts, counts, share, index, length, cut))
        return generations

    def _prompt_room(self) -> int | None:
        """How many prompt tokens fit beside ``max_new_tokens`` in the model's context."""
        if not self.max_positions:
            return None
        room = self.max_positions - self.settings.max_new_tokens
        if room <= 0:
            raise ConfigError(
                f"max_new_tokens {self.settings.max_new_tokens} leaves no room for a prompt in "
                f"the model's {self.max_positions} positions"
            )
        return room

    def _generate_texts(
        self, index: int, batch: list[Request]
    ) -> list[tuple[list[str], list[int]]]:
        import torch

        s = self.settings
        encoded = [self._encode(r.prompt) for r in batch]
        room = self._prompt_room()
        if room:
            # keep BOS and the end (the question); each cut is counted in the run's results
            encoded = [keep_end(ids, room, self.tokenizer.bos_token_id) for ids in encoded]
        padded = self.tokenizer.pad({"input_ids": encoded}, return_tensors="pt")
        input_ids = padded["input_ids"].to(self.device)
        attention = padded["attention_mask"].to(self.device)
        torch.manual_seed(s.seed + index)
        stops = _StopStrings(self.tokenizer, [r for r in batch for _ in range(s.samples)])
        with torch.inference_mode():
            new = self._decode(
                input_ids.repeat_interleave(s.samples, dim=0),
                attention.repeat_interleave(s.samples, dim=0),
                stops,
            )
        results = []
        for row, request in enumerate(batch):
            texts, counts = [], []
            for k in range(s.samples):
                ids = new[row * s.samples + k]
                text = decode_keeping_tags(self.tokenizer, [ids], request.thinking or ())[0]
                texts.append(cut_output(text, request))
                counts.append(len(ids))
            results.append((texts, counts))
        return results

    def _decode(self, input_ids, attention, stops: _StopStrings) -> list[list[int]]:
        """Greedy or sampled decoding with a KV cache that drops every row as soon as it is
        done (EOS or a stop string), so the rows still running never pay for finished ones
        (``generate`` keeps computing finished rows until the whole batch is done).
        Returns each row's new tokens, EOS excluded."""
        import torch
        from transformers import DynamicCache

        s = self.settings
        rows = input_ids.shape[0]
        tokens: list[list[int]] = [[] for _ in range(rows)]
        alive = list(range(rows))  # original row of each row still in the batch
        cache = DynamicCache(config=self.model.config)
        # transformers 5.24 renamed the forward argument past_key_values to cache
        cache_arg = self._cache_argument()
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        logits = self.model(
            input_ids=input_ids,
            attention_mask=attention,
            position_ids=positions,
            **{cache_arg: cache},
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1, :]
        choose = self._chooser()
        for step in range(s.max_new_tokens):
            chosen = choose(logits)
            running = []  # batch positions of the rows that did not end with EOS
            for i, token in enumerate(chosen.tolist()):
                if token not in self._eos:
                    tokens[alive[i]].append(token)
                    running.append(i)
            stopped = stops.hits([alive[i] for i in running], tokens)
            keep = [i for i, hit in zip(running, stopped, strict=True) if not hit]
            if not keep or step == s.max_new_tokens - 1:
                break
            if len(keep) < len(alive):
                index = torch.tensor(keep, device=chosen.device)
                cache.batch_select_indices(index)
                attention, chosen = attention[index], chosen[index]
                alive = [alive[i] for i in keep]
            attention = torch.cat([attention, attention.new_ones(len(alive), 1)], dim=-1)
            logits = self.model(
                input_ids=chosen[:, None],
                attention_mask=attention,
                position_ids=attention.sum(-1, keepdim=True) - 1,
                **{cache_arg: cache},
                use_cache=True,
            ).logits[:, -1, :]
        return tokens

    def _cache_argument(self) -> str:
        import inspect

        parameters = inspect.signature(self.model.forward).parameters
        return "cache" if "cache" in parameters else "past_key_values"

    def _chooser(self):
        """The next-token rule, built once per batch: argmax, or a sample at the temperature
        within top-p (transformers' own logits warpers)."""
        import torch
        from transformers.generation.logits_process import (
            TemperatureLogitsWarper,
            TopPLogitsWarper,
        )

        s = self.settings
        if s.temperature <= 0:
            return lambda logits: logits.argmax(dim=-1)
        warpers = [TemperatureLogitsWarper(s.temperature)]
        if s.top_p < 1.0:
            warpers.append(TopPLogitsWarper(s.top_p))

        def sample(logits):
            scores = logits.float()
            for warp in warpers:
                scores = warp(None, scores)
            return torch.multinomial(torch.softmax(scores, dim=-1), 1).squeeze(-1)

        return sample
