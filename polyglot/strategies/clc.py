"""``clc``: cross-lingual consistency voting. Each item is solved in its own language and in the
pivot languages, and the answers vote; the majority answer is the item's. A tie goes to the
item's own language's answer if it is among the tied, else to the first tied answer in the
pivots' order (so the vote is deterministic). Items with no answer do not vote.

Where the pivot versions come from:

- no translator: the benchmark's own versions of the item (a parallel benchmark: human
  translations, so an upper bound of CLC with machine-translated pivots);
- ``--translator T``: T translates every item into each pivot language (any benchmark);
  ``--translator clp`` (``--strategy clsp``) is CLSP (Qin et al., 2023): the model restates the
  problem in each pivot language (CLP's alignment prompt), then solves that restatement.

The run folder holds ``native/`` (an ordinary run: the item's languages, plus the pivots when
they are the benchmark's own), for a translator ``pivots/<lang>/<pivot>/`` (the cached
``translations.jsonl``, the translated items as ``data/<pivot>.jsonl`` and their ordinary eval
``run/``, zero-shot; an empty translation casts no vote) and, as any run, ``run.json``, ``generations.jsonl`` (each
requested item's own record with the voted ``answer``/``correct``, its ``votes`` and the
``own_answer``), ``results.json`` and the reports.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.data.benchmarks import Columns, load_spec
from polyglot.evaluate.plan import Plan, Route
from polyglot.evaluate.records import read_records
from polyglot.evaluate.runner import (
    GENERATIONS,
    RUN_FILE,
    RunResult,
    claim_strategy_run,
    config_dataset,
    execute,
    finish_run,
    run_warnings,
    shared_backend,
)
from polyglot.files import read_json, write_lines
from polyglot.outputs import OutputRefused
from polyglot.provenance import make_card, now, write_card
from polyglot.strategies.base import STRATEGIES, Strategy
from polyglot.translate import TranslationCache, chrf, load_translator


def vote(own: str, answers: dict[str, float | None], order: list[str]) -> float | None:
    """The majority answer among ``answers`` (language -> answer, None: no answer); ties go to
    ``own``'s answer when it is tied, else to the first tied one in ``order``."""
    counted = Counter(a for a in answers.values() if a is not None)
    if not counted:
        return None
    top = max(counted.values())
    tied = {a for a, c in counted.items() if c == top}
    if answers.get(own) in tied:
        return answers[own]
    for lang in order:
        if answers.get(lang) in tied:
            return answers[lang]
    return min(tied)  # not reached: every tied answer came from some language


@STRATEGIES.register("clc")
class CrossLingualConsistency(Strategy):
    """Solve each item in its language and the pivots', and vote."""

    name = "clc"
    settings = ("translator", "pivots")

    def check(self, config) -> None:
        if config.translator and not config.pivots:
            raise ValueError(
                "--strategy clc with --translator translates each item into the --pivots "
                "languages: name them (e.g. --pivots en,de)"
            )
        if config.translator and config.shots:
            raise ValueError(
                "--strategy clc with --translator solves the translated pivots zero-shot: "
                "use --shots 0"
            )
        if config.samples > 1:
            raise ValueError("--strategy clc votes one output per language: use --samples 1")

    def run(self, config, backends: dict):
        with claim_strategy_run(config):
            return _evaluate_clc(config, backends)


def _evaluate_clc(config, backends: dict | None = None):

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    spec_languages = None
    with contextlib.suppress(ConfigError):  # a custom benchmark: the languages asked for
        spec_languages = list(load_spec(config.benchmark).languages)
    asked = config.languages
    if asked == "all":
        asked = spec_languages or []
    elif isinstance(asked, str):
        asked = [x.strip() for x in asked.split(",") if x.strip()]
    pivots = config.pivots or "all"
    if pivots == "all":  # every language of the benchmark (an item's own votes once)
        pivots = list(spec_languages or asked)
    if isinstance(pivots, str):
        pivots = [p.strip() for p in pivots.split(",") if p.strip()]
    languages = list(dict.fromkeys([*asked, *pivots]))
    if len(languages) < 2:
        raise ConfigError("--strategy clc needs at least two languages to vote (--pivots)")
    pivot_translator = None
    if config.translator:  # the item's own language natively; the pivots from the translator
        languages = list(asked)
        # loaded and checked before any generation
        pivot_translator = _pivot_translator(config, asked, pivots, backends)
    update = {"strategy": "native", "pivots": None, "translator": None, "languages": languages,
              "out": str(out / "native"), "overwrite": False}  # fmt: skip
    try:  # reused when the same; --overwrite replaces it only when it differs
        native = execute(config.model_copy(update=update), backends)
    except ConfigError as err:
        if not (config.overwrite and isinstance(err, OutputRefused) and err.overwrite_helps):
            raise
        native = execute(config.model_copy(update={**update, "overwrite": True}), backends)
    records = read_records(native.out / GENERATIONS)
    by_item: dict[str, dict[str, dict]] = {}  # (source language, id) -> voter -> record
    for record in records.values():
        for source in asked if not config.translator else [record["lang"]]:
            by_item.setdefault(f"{source}/{record['id']}", {})[record["lang"]] = record
    translated, quality = {}, {}
    if config.translator:
        translated, quality = _translated_pivots(
            config, asked, pivots, out, pivot_translator, backends
        )
        for key, versions in translated.items():
            by_item.setdefault(key, {}).update(versions)
    lines, routes = [], []
    for record in records.values():
        if record["lang"] not in asked:
            continue
        versions = by_item[record["key"]]
        voters = list(dict.fromkeys([record["lang"], *pivots]))  # its own, then the pivots
        routes += [Route(record["key"], "native", record["lang"])] + [
            Route(record["key"], "pivot", lang, config.translator or "benchmark")
            for lang in voters[1:]
        ]
        answers = {lang: versions[lang].get("answer") for lang in voters if lang in versions}
        voted = vote(record["lang"], answers, voters)
        gold = record["gold"]
        correct = voted is not None and abs(float(voted) - float(gold)) < 1e-6
        lines.append(json.dumps({**record, "own_answer": record.get("answer"), "answer": voted,
                                 "correct": correct, "votes": answers}, ensure_ascii=False))  # fmt: skip
    native_card = read_json(native.out / RUN_FILE, "run card")
    benchmark = {**native_card.get("benchmark", {}), "languages": asked}
    write_card(
        out,
        make_card("eval-run", config.result_fields(), inputs=native_card.get("inputs"),
                  model=native_card.get("model"), benchmark=benchmark,
                  dataset_hash=native_card.get("dataset_hash"), thinking=native_card.get("thinking"),
                  started=now(), clc={"pivots": pivots, "translator": config.translator,
                       "chrf": quality or None}),
        RUN_FILE,
    )  # fmt: skip
    write_lines(out / GENERATIONS, lines)
    Plan("clc", routes, {"pivots": pivots, "translator": config.translator}).write(out)
    results = finish_run(out)
    return RunResult(Path(out), results, native.generated, run_warnings(results))


def _pivot_translator(config, asked, pivots, backends):
    """The translator of the pivots, checked on every (source, pivot) pair, the asked
    languages' items, and the benchmark's own versions in the pivots (chrF), where it has
    them."""

    dataset = config_dataset(config, asked)
    references: dict[str, dict[str, str]] = {}
    exemplars = dict(dataset.exemplars)
    for lang in dict.fromkeys([*asked, *pivots]):
        try:  # a parallel benchmark: its own version (and few-shot examples) in this language
            own = config_dataset(config, [lang], limit=None)
        except ConfigError:  # a pivot the benchmark does not have: the translator makes it
            continue
        references[lang] = {e.id: e.question for e in own.for_language(lang)}
        exemplars = {**own.exemplars, **exemplars}
    backend = None
    if config.translator.partition(":")[0] in ("self", "clp"):
        backend = shared_backend(config, backends)
    translator = load_translator(
        config.translator, references, seed=config.seed, backend=backend, exemplars=exemplars,
        settings=config.generation(),
    )  # fmt: skip
    for pivot in pivots:
        translator.check([lang for lang in asked if lang != pivot], pivot)
    return translator, dataset, references


def _translated_pivots(config, asked, pivots, out: Path, pivot_translator, backends) -> dict:
    """``{"<lang>/<id>": {pivot: record}}``: every item of each asked language translated into
    each pivot (cached), and solved there by an ordinary zero-shot eval run."""

    translator, dataset, references = pivot_translator
    quality: dict[str, dict[str, float]] = {}
    found: dict[str, dict[str, dict]] = {}
    for source in asked:
        examples = dataset.for_language(source)
        items = [(f"{source}/{e.id}", source, e.question) for e in examples]
        for pivot in [p for p in pivots if p != source]:
            folder = out / "pivots" / source / pivot
            # this run's own folder: another translator's cache is replaced (the run's
            # settings were checked above)
            cache = TranslationCache(folder / "translations.jsonl", translator.identity(),
                                     replace=True)  # fmt: skip
            texts = cache.translate(translator, items, pivot)
            reference = references.get(pivot) or {}
            pairs = [(texts[f"{source}/{e.id}"], reference[e.id]) for e in examples
                     if e.id in reference]  # fmt: skip
            if pairs:  # the benchmark has this pivot: the translations' quality
                quality.setdefault(source, {})[pivot] = chrf(
                    [h for h, _ in pairs], [r for _, r in pairs]
                )
            # an empty translation (a restatement the model did not write) casts no vote
            rows = [
                json.dumps({"id": e.id, "question": texts[f"{source}/{e.id}"],
                            "answer": _plain(e.answer_value)}, ensure_ascii=False)
                for e in examples if texts[f"{source}/{e.id}"].strip()
            ]  # fmt: skip
            data = folder / "data" / f"{pivot}.jsonl"
            if not rows:
                continue
            if not data.is_file() or data.read_text(encoding="utf-8") != "\n".join(rows) + "\n":
                data.parent.mkdir(parents=True, exist_ok=True)
                write_lines(data, rows)
            update = {"strategy": "native", "pivots": None, "translator": None,
                      "benchmark": "custom", "data": str(data), "columns": Columns(id="id"),
                      "languages": [pivot], "items": None, "limit": None, "shots": 0,
                      "out": str(folder / "run"), "overwrite": False}  # fmt: skip
            try:
                run = execute(config.model_copy(update=update), backends)
            except OutputRefused as err:  # translations changed: the folder is this run's own
                if not err.overwrite_helps:
                    raise
                run = execute(config.model_copy(update={**update, "overwrite": True}), backends)
            for record in read_records(run.out / GENERATIONS).values():
                found.setdefault(f"{source}/{record['id']}", {})[pivot] = record
    return found, quality


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
