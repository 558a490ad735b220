"""``self``: the evaluated model translates its own input (self-translate, Etxaniz et al.,
2024), prompted with a few parallel examples of the benchmark's few-shot split (never the items
being evaluated): ``<Language>: <question>\\n<Target>: <question>`` blocks, then the item,
generation stopped at the end of the line. ``clp``: the model restates the problem in the
target language (CLP's alignment step). Both work with any generation backend (the run's own:
hf or vLLM)."""

from __future__ import annotations

from polyglot.config import ConfigError
from polyglot.generation.base import Request
from polyglot.generation.loop import generate_missing
from polyglot.packs import load_pack
from polyglot.translate.base import TRANSLATORS, TranslatorKind

SHOTS = 3


def _name(lang: str) -> str:

    return load_pack(lang).name


def _generate(backend, requests, spent: dict[str, int] | None = None) -> dict[str, str]:
    """The backend's output per request key; ``spent`` gets each one's generated tokens."""
    texts = {}
    for generations in generate_missing(backend, requests):
        for g in generations:
            texts[g.key] = g.outputs[0]
            if spent is not None:
                tokens = getattr(g, "new_tokens", None)
                spent[g.key] = int(tokens[0]) if tokens else 0
    return texts


@TRANSLATORS.register("self")
class SelfTranslator(TranslatorKind):
    usage = "self"

    @classmethod
    def from_spec(cls, name, argument, context):
        if context.backend is None:
            raise ConfigError(f"--translator {name} translates with the evaluated model's backend")
        return cls(context.backend, context.exemplars)

    def __init__(self, backend, exemplars: dict[str, list], *, shots: int = SHOTS):
        self.backend, self.exemplars, self.shots = backend, exemplars, shots
        self.spent: dict[str, int] = {}  # generated tokens per translated key (cost)

    def identity(self) -> dict:
        described = self.backend.describe()
        settings = getattr(self.backend, "settings", None)
        # what changes its output: the model, and how the backend samples and cuts it
        sampling = (
            settings.model_dump(include={"adapter", "max_new_tokens", "temperature", "top_p",
                                         "seed", "dtype"})
            if settings is not None else {}
        )  # fmt: skip
        import hashlib

        shots = "\n".join(f"{lang}:{e.question}" for lang, rows in sorted(self.exemplars.items())
                          for e in rows[: self.shots])  # fmt: skip
        return {"name": "self", "shots": self.shots, "model": described.get("model"),
                "fingerprint": described.get("fingerprint"), **sampling,
                "examples": hashlib.sha1(shots.encode()).hexdigest()[:12]}  # fmt: skip

    def check(self, sources: list[str], target: str = "en") -> None:
        for lang in sources:
            self.prompt(lang, "", target)

    def prompt(self, lang: str, question: str, target: str = "en") -> str:
        native, translated = self.exemplars.get(lang) or [], self.exemplars.get(target) or []
        if len(native) < self.shots or len(translated) < self.shots:
            raise ConfigError(
                f"--translator self needs {self.shots} parallel few-shot examples in '{lang}' "
                f"and '{target}' (the benchmark's few-shot split); this benchmark has "
                f"{min(len(native), len(translated))}"
            )
        source, goal = _name(lang), _name(target)
        blocks = [
            f"{source}: {a.question}\n{goal}: {b.question}\n\n"
            for a, b in zip(native[: self.shots], translated[: self.shots], strict=True)
        ]
        return "".join(blocks) + f"{source}: {question}\n{goal}:"

    def translate(self, items: list[tuple[str, str, str]], target: str = "en") -> dict[str, str]:

        requests = [Request(k, self.prompt(lang, q, target), ["\n"]) for k, lang, q in items]
        texts = _generate(self.backend, requests, self.spent)
        return {key: text.strip() for key, text in texts.items()}


ALIGNMENT = (
    "Please act as an expert in multi-lingual understanding in {language}.\n\n"
    "Request: {question}\n\n"
    "Let's understand the task in {target} step-by-step!"
)


@TRANSLATORS.register("clp")
class RestatingTranslator(SelfTranslator):
    """``clp``: cross-lingual prompting (Qin et al., 2023), first step — the evaluated model
    restates and understands the problem in the target language step by step (zero-shot
    alignment prompt); that restatement then enters like a translation (the solver step)."""

    usage = "clp"

    def identity(self) -> dict:
        found = {**super().identity(), "name": "clp", "shots": 0}
        found.pop("examples", None)  # zero-shot: it reads none
        return found

    def check(self, sources: list[str], target: str = "en") -> None:
        return None  # zero-shot: nothing to check

    def prompt(self, lang: str, question: str, target: str = "en") -> str:
        return (
            ALIGNMENT.format(language=_name(lang), question=question, target=_name(target)) + "\n"
        )

    def translate(self, items: list[tuple[str, str, str]], target: str = "en") -> dict[str, str]:

        requests = [Request(k, self.prompt(lang, q, target), ["\n\n"]) for k, lang, q in items]
        texts = _generate(self.backend, requests, self.spent)
        return {key: " ".join(text.split()) for key, text in texts.items()}
