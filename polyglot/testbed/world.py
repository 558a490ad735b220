"""The testbed world: parallel multi-step arithmetic word problems in several languages.

Every problem (a start count and 2-3 operations: add, subtract, double, triple) is rendered
from per-language templates (``templates/<lang>.yaml``; adding a language means adding a
file) with the same id, names, objects and phrasings in every language, its gold answer, and
three chains of thought:

- ``cot_en``: the steps and the answer sentence in English (each step restates its story
  sentence, then computes: "Tom buys 3 more apples. 5 + 3 = 8.");
- ``cot_native``: the same in the question's language;
- ``cot_mixed``: the question restated in its language, the steps in English with the key
  term (the object) in the language, and the answer sentence in the language.

Each CoT ends with the language pack's answer cue. Next to the problems, general text per
language (descriptions, instructions, short dialogues from templates and the pack's lexicon)
is what a language expert is fine-tuned on. Everything is deterministic by seed; the splits
never share a problem.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pydantic import field_validator, model_validator

from polyglot.config import ConfigError, StrictModel, load_yaml_model
from polyglot.packs import load_pack

TEMPLATE_DIR = Path(__file__).parent / "templates"
OPERATIONS = ("add", "subtract", "double", "triple")
DEFAULT_LANGUAGES = ("en", "de", "sw", "ko", "th", "bn")


class TemplateObject(StrictModel):
    word: str
    classifier: str = ""


class Story(StrictModel):
    start: list[str]
    add: list[str]
    subtract: list[str]
    double: list[str]
    triple: list[str]
    question: list[str]


class CotTemplates(StrictModel):
    start: str
    add: str
    subtract: str
    double: str
    triple: str


class Templates(StrictModel):
    lang: str
    native_digits: bool = False
    names: list[str]
    objects: list[TemplateObject | str]
    story: Story
    cot: CotTemplates
    # English only: the short steps of the language-mixed CoT ("3 more: 5 + 3 = 8."), which
    # carry the question language's key terms
    mixed_steps: CotTemplates | None = None
    general: list[str]

    @field_validator("objects")
    @classmethod
    def _objects(cls, objects):
        return [o if isinstance(o, TemplateObject) else TemplateObject(word=o) for o in objects]

    @model_validator(mode="after")
    def _sizes(self) -> Templates:
        if len(self.names) < 6 or len(self.objects) < 10:
            raise ValueError("needs at least 6 names and 10 objects")
        if self.lang == "en" and self.mixed_steps is None:
            raise ValueError("the English templates need 'mixed_steps' (the mixed CoT's steps)")
        return self


@cache
def load_templates(lang: str) -> Templates:
    path = TEMPLATE_DIR / f"{lang}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml")))
        raise ConfigError(f"the testbed has no templates for '{lang}' ({path}); it has {known}")
    return load_yaml_model(path, Templates)


def template_languages() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class Problem:
    id: str
    name: int  # index into every language's names
    obj: int  # index into every language's objects (parallel)
    start: int
    ops: tuple[
        tuple[str, int], ...
    ]  # (operation, operand); operand is the factor for double/triple
    variants: tuple[int, ...]  # phrasing choice per sentence (start, ops..., question)

    @property
    def values(self) -> list[int]:
        """The running count after the start and after each operation."""
        values = [self.start]
        for op, k in self.ops:
            a = values[-1]
            values.append(a + k if op == "add" else a - k if op == "subtract" else a * k)
        return values

    @property
    def answer(self) -> int:
        return self.values[-1]

    def signature(self) -> tuple:
        return (self.name, self.obj, self.start, self.ops)


def sample_problem(rng: random.Random, item_id: str, max_value: int = 99) -> Problem:
    """2-3 operations with every intermediate count between 1 and ``max_value``."""
    while True:
        start = rng.randint(2, 20)
        ops: list[tuple[str, int]] = []
        value = start
        for _ in range(rng.choice((2, 3))):
            choices = ["add", "subtract"]
            if value * 2 <= max_value:
                choices.append("double")
            if value * 3 <= max_value:
                choices.append("triple")
            op = rng.choice(choices)
            if op == "add":
                k = rng.randint(2, 9)
                if value + k > max_value:
                    break
                value += k
            elif op == "subtract":
                k = rng.randint(1, min(9, value - 1)) if value > 1 else 0
                if not k:
                    break
                value -= k
            else:
                k = 2 if op == "double" else 3
                value *= k
            ops.append((op, k))
        else:
            if len({op for op, _ in ops}) >= 2 or len(ops) == 3:
                variants = tuple(rng.randrange(2) for _ in range(len(ops) + 2))
                return Problem(
                    item_id, rng.randrange(6), rng.randrange(10), start, tuple(ops), variants
                )


@dataclass
class Rendered:
    id: str
    lang: str
    question: str
    answer: int
    cot_en: str
    cot_native: str
    cot_mixed: str
    ops: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "lang": self.lang,
            "question": self.question,
            "answer": self.answer,
            "cot_en": self.cot_en,
            "cot_native": self.cot_native,
            "cot_mixed": self.cot_mixed,
            "ops": self.ops,
        }


def _number(templates: Templates, value: int) -> str:
    return load_pack(templates.lang).render_number(value) if templates.native_digits else str(value)


def _answer_sentence(templates: Templates, value: int) -> str:
    pack = load_pack(templates.lang)
    return pack.answer_cue.replace("{n}", _number(templates, value))


def _fill(
    text: str,
    t: Templates,
    problem: Problem,
    source: Templates | None = None,
    event: str = "",
    **numbers: int,
) -> str:
    """Fill a template of ``t`` with the problem's name and object (and digits) of ``source``;
    ``event`` is the story sentence a CoT step restates."""
    source = source or t
    obj = source.objects[problem.obj]
    slots = {"name": source.names[problem.name], "obj": obj.word, "clf": obj.classifier}
    slots["event"] = event
    slots.update({k: _number(source, v) for k, v in numbers.items()})
    return text.format(**slots)


def _join(t: Templates, sentences: list[str]) -> str:
    separator = " " if t.lang != "th" else "  "
    return separator.join(s.strip() for s in sentences)


def story_sentences(problem: Problem, t: Templates, source: Templates | None = None) -> list[str]:
    """The question's sentences in ``t``'s language: the start, one per operation, the question
    (names, objects and digits from ``source``, default ``t``)."""

    def pick(options: list[str], i: int) -> str:
        return options[problem.variants[i] % len(options)]

    sentences = [_fill(pick(t.story.start, 0), t, problem, source, n=problem.start)]
    for i, (op, k) in enumerate(problem.ops):
        sentences.append(_fill(pick(getattr(t.story, op), i + 1), t, problem, source, k=k))
    sentences.append(_fill(pick(t.story.question, -1), t, problem, source))
    return sentences


def question_text(problem: Problem, t: Templates) -> str:
    return _join(t, story_sentences(problem, t))


def cot_steps(
    problem: Problem,
    t: Templates,
    objects_from: Templates | None = None,
    templates: CotTemplates | None = None,
) -> list[str]:
    """The reasoning steps in ``t``'s language (names, objects and digits from ``objects_from``).

    Each step restates the question's sentence for it (``{event}``) and then computes, so a
    small model follows the story sentence by sentence.
    """
    source = objects_from or t
    cot = templates or t.cot
    events = story_sentences(problem, t, source)
    values = problem.values
    steps = [_fill(cot.start, t, problem, source, events[0], n=problem.start)]
    for i, ((op, k), a, b) in enumerate(zip(problem.ops, values, values[1:], strict=False)):
        steps.append(_fill(getattr(cot, op), t, problem, source, events[i + 1], a=a, b=b, k=k, m=k))
    return steps


def render(problem: Problem, lang: str) -> Rendered:
    t, english = load_templates(lang), load_templates("en")
    question = question_text(problem, t)
    cot_en = _join(
        english, [*cot_steps(problem, english), _answer_sentence(english, problem.answer)]
    )
    cot_native = _join(t, [*cot_steps(problem, t), _answer_sentence(t, problem.answer)])
    # Mixed: restate the question (its last sentence) in the language, reason in English with
    # the language's names, objects and digits, answer in the language.
    restatement = story_sentences(problem, t)[-1]
    cot_mixed = _join(
        t,
        [
            restatement,
            *cot_steps(problem, english, objects_from=t, templates=english.mixed_steps),
            _answer_sentence(t, problem.answer),
        ],
    )
    return Rendered(
        problem.id,
        lang,
        question,
        problem.answer,
        cot_en,
        cot_native,
        cot_mixed,
        [list(op) for op in problem.ops],
    )


def translation_pair(source: str, source_lang: str, target: str, target_lang: str) -> str:
    """One translation pair as general text: "Deutsch: ... English: ..." (native names of the
    languages), the format `polyglot` prompts a model's own translation with."""
    return f"{load_pack(source_lang).native_name}: {source} {load_pack(target_lang).native_name}: {target}"


def general_text(
    lang: str, rng: random.Random, documents: int, sentences: tuple[int, int] = (3, 6)
) -> list[str]:
    """Non-math text: general templates and problem-story sentences as plain descriptions."""
    t = load_templates(lang)
    pack = load_pack(lang)
    words = list(pack.lexicon.values())
    story = [
        s
        for options in (
            t.story.start,
            t.story.add,
            t.story.subtract,
            t.story.double,
            t.story.triple,
        )
        for s in options
    ]
    docs = []
    for _ in range(documents):
        chosen = []
        for _ in range(rng.randint(*sentences)):
            template = rng.choice(t.general) if rng.random() < 0.6 else rng.choice(story)
            obj = rng.choice(t.objects)
            chosen.append(
                template.format(
                    name=rng.choice(t.names),
                    obj=obj.word,
                    clf=obj.classifier,
                    word=rng.choice(words),
                    n=_number(t, rng.randint(2, 20)),
                    k=_number(t, rng.randint(1, 9)),
                )
            )
        docs.append(_join(t, chosen))
    return docs
