"""``self``: the evaluated model translates its own input into English (self-translate,
Etxaniz et al., 2024), prompted with a few parallel examples of the benchmark's few-shot split
(never the items being evaluated): ``<Language>: <question>\\nEnglish: <question>`` blocks,
then the item, generation stopped at the end of the line. Works with any generation backend
(the run's own: hf or vLLM)."""

from __future__ import annotations

from polyglot.config import ConfigError

SHOTS = 3


class SelfTranslator:
    def __init__(self, backend, exemplars: dict[str, list], *, shots: int = SHOTS):
        self.backend, self.exemplars, self.shots = backend, exemplars, shots

    def identity(self) -> dict:
        described = self.backend.describe()
        return {"name": "self", "shots": self.shots, "model": described.get("model"),
                "fingerprint": described.get("fingerprint")}  # fmt: skip

    def prompt(self, lang: str, question: str) -> str:
        from polyglot.packs import load_pack

        name = load_pack(lang).name
        native, english = self.exemplars.get(lang) or [], self.exemplars.get("en") or []
        if len(native) < self.shots or len(english) < self.shots:
            raise ConfigError(
                f"--translator self needs {self.shots} parallel few-shot examples in '{lang}' "
                "and English (the benchmark's few-shot split); this benchmark has "
                f"{min(len(native), len(english))}"
            )
        blocks = [
            f"{name}: {a.question}\nEnglish: {b.question}\n\n"
            for a, b in zip(native[: self.shots], english[: self.shots], strict=True)
        ]
        return "".join(blocks) + f"{name}: {question}\nEnglish:"

    def translate(self, items: list[tuple[str, str, str]]) -> dict[str, str]:
        from polyglot.generation.base import Request

        requests = [Request(key, self.prompt(lang, q), ["\n"]) for key, lang, q in items]
        batches = self.backend.batches(requests)
        texts = {}
        for generations in self.backend.generate(list(enumerate(batches))):
            for g in generations:
                texts[g.key] = g.outputs[0].strip()
        return texts


ALIGNMENT = (
    "Please act as an expert in multi-lingual understanding in {language}.\n\n"
    "Request: {question}\n\n"
    "Let's understand the task in English step-by-step!"
)


class RestatingTranslator(SelfTranslator):
    """``clp``: cross-lingual prompting (Qin et al., 2023), first step — the evaluated model
    restates and understands the problem in English step by step (zero-shot alignment prompt);
    that restatement then enters like a translation (the solver step: the English prompt on
    it)."""

    def identity(self) -> dict:
        return {**super().identity(), "name": "clp", "shots": 0}

    def prompt(self, lang: str, question: str) -> str:
        from polyglot.packs import load_pack

        return ALIGNMENT.format(language=load_pack(lang).name, question=question) + "\n"

    def translate(self, items: list[tuple[str, str, str]]) -> dict[str, str]:
        from polyglot.generation.base import Request

        requests = [Request(key, self.prompt(lang, q), ["\n\n"]) for key, lang, q in items]
        texts = {}
        for generations in self.backend.generate(list(enumerate(self.backend.batches(requests)))):
            for g in generations:
                texts[g.key] = " ".join(g.outputs[0].split())
        return texts
