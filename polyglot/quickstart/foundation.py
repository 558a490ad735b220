"""The quickstart's first stage: answer extraction and language ID checked on a benchmark's
own data.

For every language: the benchmark's worked exemplars must extract to their known answers, every
gold answer must parse, each gold answer written in the pack's digits and answer cue must come
back unchanged, and the questions must be identified as the right language.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from polyglot.data.benchmarks import ParallelDataset, load_benchmark
from polyglot.detect import detect_language
from polyglot.files import write_json
from polyglot.packs import all_packs, load_pack
from polyglot.text.answers import extract_answer, is_correct


@dataclass
class LanguageCheck:
    lang: str
    exemplars_correct: int
    exemplars: int
    exemplar_rules: dict[str, int]
    round_trip_correct: int
    items: int
    lid_correct: int

    @property
    def lid_accuracy(self) -> float:
        return self.lid_correct / self.items if self.items else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "lid_accuracy": self.lid_accuracy}


def check_language(dataset: ParallelDataset, lang: str, detect: bool = True) -> LanguageCheck:

    pack = load_pack(lang)
    exemplars = dataset.exemplars.get(lang, [])
    answers = [extract_answer(shot.answer, pack) for shot in exemplars]
    examples = dataset.for_language(lang)
    round_trip = sum(
        is_correct(extract_answer(pack.render_answer(ex.answer_value), pack), ex.answer_value)
        for ex in examples
    )
    lid = sum(detect_language(ex.question).lang == lang for ex in examples) if detect else 0
    return LanguageCheck(
        lang=lang,
        exemplars_correct=sum(
            is_correct(a, s.answer_value) for a, s in zip(answers, exemplars, strict=True)
        ),
        exemplars=len(exemplars),
        exemplar_rules=dict(Counter(a.rule or "none" for a in answers)),
        round_trip_correct=round_trip,
        items=len(examples),
        lid_correct=lid,
    )


def check_extraction(dataset: ParallelDataset, detect: bool = True) -> list[LanguageCheck]:
    return [check_language(dataset, lang, detect) for lang in dataset.languages]


def check_foundation(out: Path, benchmark: str = "mgsm") -> dict:
    """Every pack loads, and extraction and language ID hold on ``benchmark``'s data; written to
    ``out/extraction.json``."""
    packs = all_packs()
    dataset = load_benchmark(benchmark)
    checks = check_extraction(dataset)
    result = {
        "packs": sorted(packs),
        "benchmark": dataset.name,
        "extraction": [c.to_dict() for c in checks],
    }
    write_json(out / "extraction.json", result)
    return result
