"""``translate-all``: every non-English item is solved from its English translation, entered
either by replacing the input (the item is solved as an English one: English prompt, English
reasoning, the answer read with English cues) or, as Kang et al. (2025) do, by keeping the
native input and prefilling the reasoning with "I understand the question as: '<English>'"
(``polyglot/evaluate/plan.py`` builds both prompts). ``self-translate`` and ``clp`` are
translate-all with the model's own translation or restatement as the translator."""

from __future__ import annotations

from polyglot.evaluate.runner import execute
from polyglot.strategies.base import STRATEGIES, Strategy

TRANSLATORS_HINT = (
    "reference, noisy-reference:0.3, self, clp, hf-seq2seq:MODEL, vllm:MODEL, hf:MODEL"
)


@STRATEGIES.register("translate-all")
class TranslateAll(Strategy):
    name = "translate-all"
    settings = ("translator", "inject")

    def check(self, config) -> None:
        if not config.translator:
            raise ValueError(f"--strategy translate-all needs --translator ({TRANSLATORS_HINT})")

    def run(self, config, backends: dict):
        return execute(config, backends)
