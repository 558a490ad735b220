"""Prompt formats for multilingual math, as in lm-evaluation-harness's three MGSM modes.

- ``direct``: question, then the localized "Answer:"; exemplars answer with the number only.
- ``native-cot``: localized "Question:" and "Step-by-Step Answer:", exemplars reason in the
  question's language.
- ``en-cot``: the question in its language, reasoning in English ("Step-by-Step Answer:"),
  exemplars pair native questions with English chains of thought.

0-shot or k-shot from the benchmark's native exemplars, as plain text or through the model's
chat template. A prompt is plain data (``Prompt``) until ``render_prompt`` turns it into text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from polyglot.config import ConfigError
from polyglot.data.benchmarks import Example, ParallelDataset
from polyglot.packs import load_pack

Mode = Literal["direct", "native-cot", "en-cot"]
MODES: tuple[str, ...] = ("direct", "native-cot", "en-cot")


@dataclass(frozen=True)
class Turn:
    question: str  # with its label, e.g. "Frage: ..."
    answer: str  # with its label, e.g. "Schritt-für-Schritt-Antwort: ..."


@dataclass(frozen=True)
class Prompt:
    shots: list[Turn]
    question: str  # the labelled question to answer
    answer_prefix: str  # what the model's answer starts with, e.g. "Step-by-Step Answer:"
    stop: list[str] = field(default_factory=list)  # where generation should end


def build_prompt(example: Example, dataset: ParallelDataset, mode: str, shots: int = 0) -> Prompt:
    if mode not in MODES:
        raise ConfigError(f"unknown prompt mode '{mode}'; choose one of {', '.join(MODES)}")
    pack, english = load_pack(example.lang), load_pack("en")
    question_label = pack.prompts.question
    if mode == "direct":
        answer_label = pack.prompts.answer
    elif mode == "native-cot":
        answer_label = pack.prompts.step_by_step_answer
    else:
        answer_label = english.prompts.step_by_step_answer

    turns = []
    if shots:
        native = dataset.exemplars.get(example.lang)
        cot_source = dataset.exemplars.get("en") if mode == "en-cot" else native
        if not native or not cot_source:
            raise ConfigError(
                f"benchmark '{dataset.name}' has no exemplars for '{example.lang}'; use --shots 0"
            )
        available = min(len(native), len(cot_source))
        if shots > available:
            raise ConfigError(f"--shots {shots}: '{example.lang}' has only {available} exemplars")
        for shot, cot in zip(native[:shots], cot_source[:shots], strict=True):
            answer = _integer_text(shot.answer_value) if mode == "direct" else cot.answer
            turns.append(Turn(f"{question_label} {shot.question}", f"{answer_label} {answer}"))

    prefix = answer_label
    if not shots and mode != "direct":
        thinking = english if mode == "en-cot" else pack
        prefix = f"{answer_label} {thinking.prompts.think_step_by_step}"
    stop = [f"\n{question_label}", "\n\n"]
    return Prompt(turns, f"{question_label} {example.question}", prefix, stop)


def _integer_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def render_prompt(
    prompt: Prompt,
    tokenizer: Any = None,
    chat_template: bool = False,
    template_options: dict | None = None,
) -> str:
    """The prompt as text: plain few-shot text, or the tokenizer's chat template (with
    ``template_options`` such as ``enable_thinking`` for templates that take them)."""
    if not chat_template:
        blocks = [f"{turn.question}\n{turn.answer}" for turn in prompt.shots]
        blocks.append(f"{prompt.question}\n{prompt.answer_prefix}")
        return "\n\n".join(blocks)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ConfigError("chat_template=True needs a tokenizer that has a chat template")
    messages = []
    for turn in prompt.shots:
        messages += [
            {"role": "user", "content": turn.question},
            {"role": "assistant", "content": turn.answer},
        ]
    messages.append({"role": "user", "content": prompt.question})
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, **(template_options or {})
    )
    return text + prompt.answer_prefix


def eval_prompt(question: str, lang: str, mode: str) -> str:
    """The 0-shot prompt `polyglot eval` builds for ``question`` in ``lang`` (what a model
    trained on it will be asked)."""

    load_pack(lang)  # an unknown language is a clear error
    prompt = build_prompt(Example("x", lang, question, "0", 0.0), None, mode, 0)  # type: ignore[arg-type]
    return render_prompt(prompt)
