"""The plan of an evaluation: for every item, the route it takes to an answer.

A strategy (``polyglot/strategies/``) decides; the executor (``runner.execute``) does. A route
says in which language the model reads the item (``solve_in``) and how it got there:

- ``native``: the item as it is;
- ``translated``: its English translation (by ``via``, a translator), entered by replacing the
  question or by prefilling the reasoning (``inject``);
- ``pivot``: its version in another language (``solve_in``), a vote in cross-lingual
  consistency (``via``: the benchmark's own version, or a translator).

Every strategy run writes its plan to ``plan.json`` in its folder, so what was decided for
each item can be read (and tested) apart from what the model then did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from polyglot.data.benchmarks import Example
from polyglot.data.prompts import Prompt
from polyglot.files import write_json

PLAN_FILE = "plan.json"
UNDERSTANDING = 'I understand the question as: "{text}"'


@dataclass(frozen=True)
class Route:
    key: str  # "<lang>/<id>": the item
    route: Literal["native", "translated", "pivot"]
    solve_in: str  # the language the model reads
    via: str | None = None  # the translator, or "benchmark" for a benchmark's own version


@dataclass
class Plan:
    strategy: str
    routes: list[Route]
    decided_by: dict = field(default_factory=dict)  # e.g. selective's detector and threshold

    def counts(self) -> dict[str, int]:
        return dict(Counter(route.route for route in self.routes))

    def keys(self, route: str, solve_in: str | None = None) -> list[str]:
        return [
            r.key
            for r in self.routes
            if r.route == route and (solve_in is None or r.solve_in == solve_in)
        ]

    def write(self, folder: str | Path) -> None:
        write_json(
            Path(folder) / PLAN_FILE,
            {
                "schema": "polyglot.eval.plan/1",
                "strategy": self.strategy,
                "counts": self.counts(),
                "decided_by": self.decided_by,
                "routes": [asdict(route) for route in self.routes],
            },
        )


def translate_plan(strategy: str, keys: list[str], translator: str | None) -> Plan:
    """Every non-English item from its English translation (native: none)."""
    routes = [
        Route(key, "translated", "en", translator)
        if translator and not key.startswith("en/")
        else Route(key, "native", key.split("/", 1)[0])
        for key in keys
    ]
    return Plan(strategy, routes)


def routed_example(example: Example, translation: str | None, inject: str) -> Example:
    """The example the prompt is built from: the English translation in place of the question
    (``replace``), or the item itself (``prefill``, or no translation)."""
    if translation is None or inject != "replace":
        return example
    return Example(example.id, "en", translation, example.answer, example.answer_value)


def prefilled(prompt: Prompt, translation: str | None, inject: str) -> Prompt:
    """The prompt with the understanding sentence after its answer prefix (``prefill``, as Kang
    et al., 2025 do)."""
    if translation is None or inject != "prefill":
        return prompt
    sentence = UNDERSTANDING.format(text=translation)
    return Prompt(prompt.shots, prompt.question, f"{prompt.answer_prefix} {sentence}", prompt.stop)
