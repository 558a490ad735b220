"""``translate-all``: every non-English item is solved from its English translation, entered
either by replacing the input (the item is solved as an English one: English prompt, English
reasoning, the answer read with English cues) or, as Kang et al. (2025) do, by keeping the
native input and prefilling the reasoning with "I understand the question as: '<English>'"."""

from __future__ import annotations

from polyglot.data.benchmarks import Example
from polyglot.data.prompts import Prompt

UNDERSTANDING = 'I understand the question as: "{text}"'


def routed_example(example: Example, translation: str | None, inject: str) -> Example:
    """The example the prompt is built from: the English translation in place of the question
    (``replace``), or the item itself (``prefill``, or no translation)."""
    if translation is None or inject != "replace":
        return example
    return Example(example.id, "en", translation, example.answer, example.answer_value)


def prefilled(prompt: Prompt, translation: str | None, inject: str) -> Prompt:
    """The prompt with the understanding sentence after its answer prefix (``prefill``)."""
    if translation is None or inject != "prefill":
        return prompt
    sentence = UNDERSTANDING.format(text=translation)
    return Prompt(prompt.shots, prompt.question, f"{prompt.answer_prefix} {sentence}", prompt.stop)
