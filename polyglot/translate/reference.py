"""Translators that read the benchmark's own English version of each item (parallel
benchmarks: MGSM, PolyMath, the testbed): ``reference`` (exact: the upper bound of any
translator) and ``noisy-reference`` (a share of its words dropped or replaced by other words
of the benchmark's English, seeded per item, so that the testbed can show how gains fall with
translation quality)."""

from __future__ import annotations

import random
import zlib

from polyglot.config import ConfigError


class ReferenceTranslator:
    def __init__(self, english: dict[str, str]):
        """``english``: item id -> the English question."""
        if not english:
            raise ConfigError(
                "--translator reference needs the benchmark's English version (a parallel "
                "benchmark with 'en')"
            )
        self.english = english

    def identity(self) -> dict:
        return {"name": "reference"}

    def reference(self, item_id: str) -> str | None:
        return self.english.get(item_id)

    def translate(self, items: list[tuple[str, str, str]]) -> dict[str, str]:
        texts = {}
        for key, _, _ in items:
            item_id = key.split("/", 1)[1]
            if item_id not in self.english:
                raise ConfigError(f"item {key}: the benchmark has no English version of it")
            texts[key] = self.english[item_id]
        return texts


class NoisyReferenceTranslator(ReferenceTranslator):
    def __init__(self, english: dict[str, str], share: float, seed: int = 0):
        super().__init__(english)
        self.share, self.seed = share, seed
        self.pool = sorted({w for text in english.values() for w in text.split()})

    def identity(self) -> dict:
        return {"name": "noisy-reference", "share": self.share, "seed": self.seed}

    def translate(self, items: list[tuple[str, str, str]]) -> dict[str, str]:
        exact = super().translate(items)
        return {key: self._corrupt(key, text) for key, text in exact.items()}

    def _corrupt(self, key: str, text: str) -> str:
        rng = random.Random(zlib.crc32(f"{self.seed}/{key}".encode()))
        words = []
        for word in text.split():
            roll = rng.random()
            if roll < self.share / 2:
                continue  # dropped
            if roll < self.share:
                word = rng.choice(self.pool)  # replaced
            words.append(word)
        return " ".join(words)
