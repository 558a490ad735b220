"""The translator interface, the spec strings that name one, and the on-disk cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from polyglot.config import ConfigError
from polyglot.files import append_jsonl, read_jsonl_objects

TRANSLATORS = ("reference", "noisy-reference", "self", "clp")


class Translator(Protocol):
    """Translates questions into English: ``{key: text}`` for ``[(key, lang, question)]``."""

    def identity(self) -> dict: ...

    def translate(self, items: list[tuple[str, str, str]]) -> dict[str, str]: ...


def load_translator(
    spec: str,
    english: dict[str, str],
    *,
    seed: int = 0,
    backend=None,
    exemplars: dict | None = None,
) -> Translator:
    """A translator from its spec: ``reference`` (the benchmark's own English version, the
    upper bound), ``noisy-reference:P`` (the reference with a share P of its words dropped or
    replaced, seeded), ``self`` (the evaluated model, few-shot; needs its ``backend`` and the
    benchmark's parallel few-shot ``exemplars``)."""
    name, _, argument = spec.partition(":")
    if name in ("self", "clp") and not argument:
        from polyglot.translate.self_translate import RestatingTranslator, SelfTranslator

        if backend is None:
            raise ConfigError(f"--translator {name} translates with the evaluated model's backend")
        if name == "clp":
            return RestatingTranslator(backend, exemplars or {})
        return SelfTranslator(backend, exemplars or {})
    if name == "reference" and not argument:
        from polyglot.translate.reference import ReferenceTranslator

        return ReferenceTranslator(english)
    if name == "noisy-reference":
        from polyglot.translate.reference import NoisyReferenceTranslator

        try:
            share = float(argument)
        except ValueError:
            share = -1.0
        if not 0 <= share <= 1:
            raise ConfigError(
                f"--translator {spec}: noisy-reference takes the share of words to corrupt, "
                "e.g. noisy-reference:0.3"
            )
        return NoisyReferenceTranslator(english, share, seed)
    raise ConfigError(
        f"--translator {spec}: one of reference, noisy-reference:SHARE (e.g. noisy-reference:0.3)"
        ", self, clp"
    )


def check_spec(spec: str) -> None:
    """Refuse a malformed translator spec before anything runs (a ``ValueError`` naming it)."""
    name, _, argument = spec.partition(":")
    if name in ("reference", "self", "clp") and not argument:
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
    raise ValueError(
        f"{spec}: one of reference, noisy-reference:SHARE (e.g. noisy-reference:0.3), self, clp"
    )


class TranslationCache:
    """``translations.jsonl`` in a run folder: the first line names the translator, then one
    ``{"key", "text"}`` per item; a rerun translates only what is missing, and a cache made by
    another translator is refused."""

    def __init__(self, path: str | Path, identity: dict):
        self.path = Path(path)
        self.identity = identity
        self.texts: dict[str, str] = {}
        if self.path.is_file():
            # a line cut by a kill is skipped (its item is translated again)
            rows = [record for _, record in read_jsonl_objects(self.path, skipped=[])]
            head = rows[0] if rows else {}
            if head.get("translator") != identity:
                raise ConfigError(
                    f"{self.path} holds translations by another translator "
                    f"({head.get('translator')}); choose another --out or --overwrite"
                )
            self.texts = {r["key"]: r["text"] for r in rows[1:] if "key" in r and "text" in r}

    def translate(self, translator: Translator, items: list[tuple[str, str, str]]) -> dict:
        missing = [item for item in items if item[0] not in self.texts]
        if missing:
            fresh = translator.translate(missing)
            if not self.path.is_file():
                append_jsonl(self.path, [{"translator": self.identity}])
            elif not self.path.read_bytes().endswith(b"\n"):  # a line cut by a kill: close it
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write("\n")
            append_jsonl(self.path, [{"key": k, "text": fresh[k]} for k, _, _ in missing])
            self.texts.update(fresh)
        return {key: self.texts[key] for key, _, _ in items}


def describe(identity: dict) -> str:
    return json.dumps(identity, sort_keys=True)
