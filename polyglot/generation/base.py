"""What a generation backend takes and returns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from polyglot.generation.engine import EngineSettings
from polyglot.text.thinking import KNOWN_TAGS


class GenerationSettings(EngineSettings):
    """How to load the model and sample from it; the same for every backend (the engine's
    parallel sizes and vLLM settings: ``EngineSettings``)."""

    model: str  # a local checkpoint directory or a hub id
    adapter: str | None = None  # a PEFT adapter directory trained on ``model``
    backend: str = "hf"  # a registered backend: "hf", "vllm" (see registry.py)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"  # hf: "auto" (cuda if available, else cpu), "cpu", "cuda", "cuda:1"
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    samples: int = 1  # n > 1 for self-consistency (needs temperature > 0)
    seed: int = 0
    # hf dynamic batching: at most this many sequences, and at most this many tokens
    # (prompt + new) in a batch; long prompts get smaller batches.
    batch_size: int = 32
    batch_tokens: int = 16384
    revision: str | None = None  # hub revision (branch, tag or commit)


@dataclass(frozen=True)
class Request:
    key: str  # the caller's id for this prompt, returned with its generation
    prompt: str
    stop: list[str] = field(default_factory=list)
    # a reasoning model's thinking tags: the stop strings apply only outside the block (its
    # blank lines and restated "Question:" are thinking, not the end of the answer)
    thinking: tuple[str, str] | None = None
    opened: bool = False  # the prompt itself opened the block


@dataclass(frozen=True)
class Generation:
    key: str
    outputs: list[str]  # one per sample, cut at the first stop string
    new_tokens: list[int]  # generated tokens per sample (up to the stop)
    seconds: float  # this request's share of its batch's wall time
    batch: int  # index of the batch it ran in (deterministic for the same requests)
    prompt_tokens: int = 0  # the prompt's length in tokens, before any truncation
    truncated: int = 0  # tokens cut from the prompt's start to fit the model's context


class Backend(Protocol):
    name: str

    def batches(self, requests: list[Request]) -> list[list[Request]]:
        """The deterministic batches ``generate`` will run, in order."""
        ...

    def generate(self, batches: list[tuple[int, list[Request]]]) -> Iterator[list[Generation]]:
        """Run (index, batch) pairs from ``batches()``; yield each batch's generations when it
        finishes. The index seeds the batch, so a batch rerun alone gives the same output."""
        ...

    def describe(self) -> dict:
        """Model identity for result metadata: path, revision or fingerprint, dtype, device."""
        ...


def inside_thinking(text: str, thinking: tuple[str, str] | None, opened: bool = False) -> bool:
    """Whether ``text`` (a generation so far) ends inside a thinking block."""
    if not thinking:
        return False
    last_open, last_close = text.rfind(thinking[0]), text.rfind(thinking[1])
    if last_close == -1:
        return opened or last_open != -1
    return last_open > last_close


def cut_output(text: str, request: Request) -> str:
    """``text`` cut at the first stop string outside every thinking block (the blank line right
    after a closing tag is not a stop: the answer follows it), as the hf backend stops."""
    if not request.thinking:
        return cut_at_stop(text, request.stop)
    opening, closing = request.thinking
    inside, exempt, i = request.opened, 0, 0
    while i < len(text):
        if text.startswith(opening, i):
            inside, i = True, i + len(opening)
            continue
        if text.startswith(closing, i):
            inside, i = False, i + len(closing)
            exempt = i + len(text[i:]) - len(text[i:].lstrip())
            continue
        if not inside and i >= exempt and any(text.startswith(s, i) for s in request.stop if s):
            return text[:i]
        i += 1
    return text


def cut_at_stop(text: str, stop: list[str]) -> str:
    """``text`` up to the earliest of the stop strings."""
    end = len(text)
    for s in stop:
        at = text.find(s)
        if at != -1:
            end = min(end, at)
    return text[:end]


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """A prompt's token ids as every backend feeds them: the tokenizer's special tokens (BOS)
    added, unless the prompt already starts with BOS (a chat template may include it)."""
    bos = tokenizer.bos_token
    add_special = not (bos and prompt.startswith(bos))
    return tokenizer(prompt, add_special_tokens=add_special).input_ids


def keep_end(ids: list[int], room: int, bos: int | None) -> list[int]:
    """``ids`` cut to ``room`` tokens from the start, keeping BOS and the end (the question)."""
    if len(ids) <= room:
        return ids
    if bos is not None and ids and ids[0] == bos:
        return [bos, *ids[len(ids) - room + 1 :]]
    return ids[-room:]


def eos_ids(generation_config, tokenizer) -> set[int]:
    """The token ids that end a generation: the model's generation config's and the
    tokenizer's EOS."""
    ids = getattr(generation_config, "eos_token_id", None) if generation_config else None
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return set(ids)


def decode_keeping_tags(tokenizer, sequences: list[list[int]], extra=()) -> list[str]:
    """Decode without special tokens, except thinking tags a tokenizer made special (they
    would vanish, and "<think>…</think>16" read as "…16"): the known ones and ``extra``."""

    tags = {tag for pair in KNOWN_TAGS for tag in pair} | set(extra)
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    added = getattr(tokenizer, "get_added_vocab", dict)()
    if not (tags & (special | set(added))):
        return tokenizer.batch_decode(sequences, skip_special_tokens=True)
    texts = tokenizer.batch_decode(sequences, skip_special_tokens=False)
    drop = [token for token in special if token not in tags]
    for i, text in enumerate(texts):
        for token in drop:
            text = text.replace(token, "")
        texts[i] = text
    return texts
