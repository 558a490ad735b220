"""The translator interface, the spec strings that name one, and the on-disk cache."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from polyglot.cache import RecordCache, digest
from polyglot.config import ConfigError
from polyglot.registry import Registry


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


@dataclass
class TranslatorContext:
    """What a translator may read when it is made for a run: the benchmark's questions by
    language and id (``references``), the run's seed, the evaluated model's backend and
    generation settings, and the benchmark's parallel few-shot ``exemplars``."""

    references: dict[str, dict[str, str]] = field(default_factory=dict)
    seed: int = 0
    backend: Any = None
    exemplars: dict = field(default_factory=dict)
    settings: Any = None


class TranslatorKind:
    """A registered translator: its spec's form and how it is made from one (``name`` or
    ``name:ARGUMENT``)."""

    usage: ClassVar[str]  # e.g. "noisy-reference:SHARE"
    takes_argument: ClassVar[bool] = False

    @classmethod
    def check_argument(cls, name: str, argument: str) -> None:
        """A ``ValueError`` for an argument this translator cannot take."""
        if cls.takes_argument and not argument.strip():
            raise ValueError(f"{name}: give {cls.usage}")
        if not cls.takes_argument and argument:
            raise ValueError(f"{name}:{argument}: {name} takes no argument")

    @classmethod
    def from_spec(cls, name: str, argument: str, context: TranslatorContext):
        raise NotImplementedError


TRANSLATORS: Registry[type[TranslatorKind]] = Registry("translator", "polyglot.translate")


def load_translator(
    spec: str,
    references: dict[str, dict[str, str]],
    *,
    seed: int = 0,
    backend=None,
    exemplars: dict | None = None,
    settings=None,
) -> Translator:
    """A translator from its spec (see each registered translator: ``reference``,
    ``noisy-reference:P``, ``self``, ``clp``, ``hf-seq2seq:MODEL``, ``vllm:MODEL``,
    ``hf:MODEL``). ``references``: language -> item id -> the benchmark's question in that
    language; ``backend`` / ``settings``: the evaluated model's; ``exemplars``: the benchmark's
    parallel few-shot items."""
    try:
        check_spec(spec)
    except ValueError as err:
        raise ConfigError(f"--translator {err}") from None
    name, _, argument = spec.partition(":")
    context = TranslatorContext(references, seed, backend, exemplars or {}, settings)
    return TRANSLATORS.get(name).from_spec(name, argument, context)


def check_spec(spec: str) -> None:
    """Refuse a malformed translator spec before anything runs (a ``ValueError`` naming it)."""
    name, _, argument = spec.partition(":")
    if name not in TRANSLATORS:
        usages = ", ".join(sorted({TRANSLATORS.get(n).usage for n in TRANSLATORS.names()}))
        raise ValueError(f"{spec}: one of {usages}")
    TRANSLATORS.get(name).check_argument(name, argument)


class TranslationCache:
    """``translations.jsonl`` in a run folder (a ``RecordCache``: the first line names the
    translator, then one ``{"key", "text", "source"}`` per item, ``source`` a digest of the text
    translated), written a chunk at a time; a rerun translates only what is missing or was made
    from another text, and a cache made by another translator is refused (or replaced)."""

    chunk = 64  # items translated between two writes

    def __init__(self, path: str | Path, identity: dict, *, replace: bool = False):
        """``replace``: a cache made by another translator is discarded (else refused)."""
        self.cache = RecordCache(path, identity, header="translator",
                                 other="replace" if replace else "refuse",
                                 what="translations")  # fmt: skip
        self.path = self.cache.path

    @property
    def texts(self) -> dict[str, str]:
        return {key: record["text"] for key, record in self.cache.records.items()}

    def translate(
        self, translator: Translator, items: list[tuple[str, str, str]], target: str = "en"
    ) -> dict:
        # an item whose text changed since (another data file under the same ids) is stale
        missing = [
            item for item in items if self.cache.get(item[0], digest(target, item[2])) is None
        ]
        # in chunks, each written as soon as it is done: a kill loses one chunk at most
        for start in range(0, len(missing), self.chunk):
            part = missing[start : start + self.chunk]
            fresh = translator.translate(part, target)
            spent = getattr(translator, "spent", {})  # generated tokens, for the cost
            self.cache.add(
                [{"key": k, "text": fresh[k], "source": digest(target, text),
                  **({"new_tokens": spent[k]} if k in spent else {})} for k, _, text in part]
            )  # fmt: skip
        return {key: self.cache.get(key)["text"] for key, _, _ in items}


def describe(identity: dict) -> str:
    return json.dumps(identity, sort_keys=True)
