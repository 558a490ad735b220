"""The translator interface, the spec strings that name one, and the on-disk cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from polyglot.config import ConfigError
from polyglot.files import append_jsonl, read_jsonl_objects
from polyglot.generation.base import GenerationSettings
from polyglot.translate.instruct import InstructionTranslator
from polyglot.translate.reference import NoisyReferenceTranslator, ReferenceTranslator
from polyglot.translate.self_translate import RestatingTranslator, SelfTranslator
from polyglot.translate.seq2seq import Seq2SeqTranslator

TRANSLATORS = ("reference", "noisy-reference", "self", "clp", "hf-seq2seq", "hf", "vllm")
SPECS = (
    "reference, noisy-reference:SHARE (e.g. noisy-reference:0.3), self, clp, "
    "hf-seq2seq:MODEL (NLLB, M2M100, Marian), vllm:MODEL or hf:MODEL (an instruction model)"
)


class Translator(Protocol):
    """Translates questions: ``{key: text}`` for ``[(key, source language, question)]`` into
    ``target`` (English unless told)."""

    def identity(self) -> dict: ...

    def check(self, sources: list[str], target: str = "en") -> None:
        """Refuse (``ConfigError``) what it cannot translate, before any generation."""
        ...

    def translate(
        self, items: list[tuple[str, str, str]], target: str = "en"
    ) -> dict[str, str]: ...


def load_translator(
    spec: str,
    references: dict[str, dict[str, str]],
    *,
    seed: int = 0,
    backend=None,
    exemplars: dict | None = None,
    settings=None,
) -> Translator:
    """A translator from its spec: ``reference`` (the benchmark's own version in the target
    language, the upper bound), ``noisy-reference:P`` (the reference with a share P of its
    words dropped or replaced, seeded), ``self`` / ``clp`` (the evaluated model, few-shot
    translation or CLP's restatement; need its ``backend`` and, for ``self``, the benchmark's
    parallel few-shot ``exemplars``), ``hf-seq2seq:MODEL`` (an MT checkpoint), ``vllm:MODEL``
    / ``hf:MODEL`` (an instruction model on that backend; ``settings``: the run's generation
    settings, whose device, dtype and batch sizes it shares).

    ``references``: language -> item id -> the benchmark's question in that language."""
    try:
        check_spec(spec)
    except ValueError as err:
        raise ConfigError(f"--translator {err}") from None
    name, _, argument = spec.partition(":")
    if name in ("self", "clp"):
        if backend is None:
            raise ConfigError(f"--translator {name} translates with the evaluated model's backend")
        if name == "clp":
            return RestatingTranslator(backend, exemplars or {})
        return SelfTranslator(backend, exemplars or {})
    if name == "reference":
        return ReferenceTranslator(references)
    if name == "noisy-reference":
        return NoisyReferenceTranslator(references, float(argument), seed)
    if name == "hf-seq2seq":
        device = getattr(settings, "device", "auto")
        batch_size = min(getattr(settings, "batch_size", 16), 32)
        return Seq2SeqTranslator(argument, device=device, batch_size=batch_size)

    shared = {} if settings is None else settings.model_dump(
        include={"device", "dtype", "batch_size", "batch_tokens", "seed"}
    )  # fmt: skip
    if name == "vllm" and settings is not None and getattr(settings, "backend", None) == "vllm":
        # a vLLM translator spans the evaluated engine's GPUs the same way; beside it, each
        # engine takes --gpu-memory-utilization of the GPUs (one replica: translation is
        # short). engine_args and the context are the evaluated model's own: not passed on.
        shared.update(settings.model_dump(include={
            "tensor_parallel_size", "pipeline_parallel_size", "gpu_memory_utilization",
            "enforce_eager"}))  # fmt: skip
    own = GenerationSettings(model=argument, backend=name, **shared)
    same_engine = (
        backend is not None
        and settings is not None
        and (settings.backend, settings.model, settings.adapter) == (name, argument, None)
        and settings.temperature == 0
    )  # the evaluated model translates: its engine is reused (one vLLM engine per GPU)
    return InstructionTranslator(own, backend if same_engine else None)


def check_spec(spec: str) -> None:
    """Refuse a malformed translator spec before anything runs (a ``ValueError`` naming it)."""
    name, _, argument = spec.partition(":")
    if name in ("reference", "self", "clp") and not argument:
        return
    if name in ("hf-seq2seq", "hf", "vllm") and argument.strip():
        return
    if name == "noisy-reference":
        try:
            if 0 <= float(argument) <= 1:
                return
        except ValueError:
            pass
        raise ValueError(
            f"{spec}: noisy-reference takes the share of words to corrupt, e.g. noisy-reference:0.3"
        )
    raise ValueError(f"{spec}: one of {SPECS}")


class TranslationCache:
    """``translations.jsonl`` in a run folder: the first line names the translator, then one
    ``{"key", "text", "source"}`` per item (``source``: a digest of the text translated), written
    a chunk at a time; a rerun translates only what is missing or was made from another text,
    and a cache made by another translator is refused (or replaced)."""

    chunk = 64  # items translated between two writes

    def __init__(self, path: str | Path, identity: dict, *, replace: bool = False):
        """``replace``: a cache made by another translator is discarded (else refused)."""
        self.path = Path(path)
        self.identity = json.loads(json.dumps(identity))  # as it reads back
        self.texts: dict[str, str] = {}
        self.sources: dict[str, str | None] = {}  # a digest of the text each was made from
        if self.path.is_file():
            # a line cut by a kill is skipped (its item is translated again)
            rows = [record for _, record in read_jsonl_objects(self.path, skipped=[])]
            head = rows[0] if rows else {}
            if head.get("translator") != self.identity:
                if not replace:
                    raise ConfigError(
                        f"{self.path} holds translations by another translator "
                        f"({head.get('translator')}); choose another --out or --overwrite"
                    )
                self.path.unlink()
                rows = []
            self.texts = {r["key"]: r["text"] for r in rows[1:] if "key" in r and "text" in r}
            self.sources = {r["key"]: r.get("source") for r in rows[1:] if "key" in r}

    def translate(
        self, translator: Translator, items: list[tuple[str, str, str]], target: str = "en"
    ) -> dict:
        # an item whose text changed since (another data file under the same ids) is stale
        missing = [
            item
            for item in items
            if item[0] not in self.texts or self.sources.get(item[0]) != _digest(item[2], target)
        ]
        # in chunks, each written as soon as it is done: a kill loses one chunk at most
        for start in range(0, len(missing), self.chunk):
            part = missing[start : start + self.chunk]
            fresh = translator.translate(part, target)
            if not self.path.is_file():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                append_jsonl(self.path, [{"translator": self.identity}])
            elif not self.path.read_bytes().endswith(b"\n"):  # a line cut by a kill: close it
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write("\n")
            spent = getattr(translator, "spent", {})  # generated tokens, for the cost
            append_jsonl(
                self.path,
                [
                    {
                        "key": k,
                        "text": fresh[k],
                        "source": _digest(text, target),
                        **({"new_tokens": spent[k]} if k in spent else {}),
                    }
                    for k, _, text in part
                ],
            )
            self.texts.update(fresh)
            self.sources.update({k: _digest(text, target) for k, _, text in part})
        return {key: self.texts[key] for key, _, _ in items}


def describe(identity: dict) -> str:
    return json.dumps(identity, sort_keys=True)


def _digest(text: str, target: str) -> str:
    import hashlib

    return hashlib.sha1(f"{target}\n{text}".encode()).hexdigest()[:12]
