"""Translators that read the benchmark's own version of each item in the target language
(parallel benchmarks: MGSM, PolyMath, the testbed): ``reference`` (exact: the upper bound of
any translator) and ``noisy-reference`` (a share of its words dropped or replaced by other words
of the benchmark's text in that language, seeded per item, so that the testbed can show how
gains fall with translation quality)."""

from __future__ import annotations

import random
import zlib

from polyglot.config import ConfigError
from polyglot.translate.base import TRANSLATORS, TranslatorKind


@TRANSLATORS.register("reference")
class ReferenceTranslator(TranslatorKind):
    usage = "reference"

    @classmethod
    def from_spec(cls, name, argument, context):
        return cls(context.references)

    def __init__(self, references: dict[str, dict[str, str]]):
        """``references``: language -> item id -> the benchmark's question in that language."""
        self.references = references

    def identity(self) -> dict:
        return {"name": "reference", "texts": self.digest()}

    def digest(self) -> str:
        """The benchmark text it reads (another version of the data is another translator)."""
        import hashlib

        found = hashlib.sha1()
        for lang in sorted(self.references):
            for item_id, text in sorted(self.references[lang].items()):
                found.update(f"{lang}\t{item_id}\t{text}\n".encode())
        return found.hexdigest()[:12]

    def check(self, sources: list[str], target: str = "en") -> None:
        if not self.references.get(target):
            raise ConfigError(
                f"--translator {self.identity()['name']}: the benchmark has no '{target}' "
                "version to read (a parallel benchmark with that language)"
            )

    def translate(self, items: list[tuple[str, str, str]], target: str = "en") -> dict[str, str]:
        self.check([], target)
        texts = {}
        for key, _, _ in items:
            item_id = key.split("/", 1)[1]
            if item_id not in self.references[target]:
                raise ConfigError(f"item {key}: the benchmark has no '{target}' version of it")
            texts[key] = self.references[target][item_id]
        return texts


@TRANSLATORS.register("noisy-reference")
class NoisyReferenceTranslator(ReferenceTranslator):
    usage = "noisy-reference:SHARE (e.g. noisy-reference:0.3)"
    takes_argument = True

    @classmethod
    def check_argument(cls, name, argument):
        try:
            if 0 <= float(argument) <= 1:
                return
        except ValueError:
            pass
        raise ValueError(
            f"{name}:{argument}: noisy-reference takes the share of words to corrupt, e.g. "
            "noisy-reference:0.3"
        )

    @classmethod
    def from_spec(cls, name, argument, context):
        return cls(context.references, float(argument), context.seed)

    def __init__(self, references: dict[str, dict[str, str]], share: float, seed: int = 0):
        super().__init__(references)
        self.share, self.seed = share, seed
        self.pools = {
            lang: sorted({w for text in texts.values() for w in text.split()})
            for lang, texts in references.items()
        }

    def identity(self) -> dict:
        return {"name": "noisy-reference", "share": self.share, "seed": self.seed,
                "texts": self.digest()}  # fmt: skip

    def translate(self, items: list[tuple[str, str, str]], target: str = "en") -> dict[str, str]:
        exact = super().translate(items, target)
        return {key: self._corrupt(key, text, target) for key, text in exact.items()}

    def _corrupt(self, key: str, text: str, target: str) -> str:
        rng = random.Random(zlib.crc32(f"{self.seed}/{key}".encode()))
        words = []
        for word in text.split():
            roll = rng.random()
            if roll < self.share / 2:
                continue  # dropped
            if roll < self.share:
                word = rng.choice(self.pools[target])  # replaced
            words.append(word)
        return " ".join(words)
