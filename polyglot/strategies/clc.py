"""``clc``: cross-lingual consistency voting. Each item is solved in its own language and in the
pivot languages — on a parallel benchmark, from the benchmark's own versions of the item — and
the answers vote; the majority answer is the item's. A tie goes to the item's own language's
answer if it is among the tied, else to the first tied answer in the pivots' order (so the vote
is deterministic). Items with no answer do not vote.

The run folder holds ``native/`` (an ordinary run over the item's languages and the pivots) and,
as any run, ``run.json``, ``generations.jsonl`` (each requested item's own record with the
voted ``answer``/``correct``, its ``votes`` and the ``own_answer``), ``results.json`` and the
reports. On a parallel benchmark the pivots' versions are human translations, so this is CLC
with reference pivots: an upper bound of CLC with machine-translated ones.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path

from polyglot.config import ConfigError


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


def evaluate_clc(config, backends: dict | None = None):
    from polyglot.data.benchmarks import load_spec
    from polyglot.evaluate.records import read_records
    from polyglot.evaluate.runner import (
        GENERATIONS,
        RUN_FILE,
        RunResult,
        _check_not_other_output,
        evaluate,
        finish_run,
        run_warnings,
    )
    from polyglot.files import check_output_dir, read_json, write_lines
    from polyglot.provenance import make_card, now, write_card

    out = check_output_dir(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _check_not_other_output(out)
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
    update = {"strategy": "native", "pivots": None, "languages": languages,
              "out": str(out / "native"), "overwrite": False}  # fmt: skip
    try:  # reused when the same; --overwrite replaces it only when it differs
        native = evaluate(config.model_copy(update=update), backends)
    except ConfigError as err:
        if not (config.overwrite and "--overwrite" in str(err)):
            raise
        native = evaluate(config.model_copy(update={**update, "overwrite": True}), backends)
    records = read_records(native.out / GENERATIONS)
    by_item: dict[str, dict[str, dict]] = {}
    for record in records.values():
        by_item.setdefault(record["id"], {})[record["lang"]] = record
    lines = []
    for record in records.values():
        if record["lang"] not in asked:
            continue
        versions = by_item[record["id"]]
        voters = list(dict.fromkeys([record["lang"], *pivots]))  # its own, then the pivots
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
                  started=now(), clc={"pivots": pivots}),
        RUN_FILE,
    )  # fmt: skip
    write_lines(out / GENERATIONS, lines)
    results = finish_run(out)
    return RunResult(Path(out), results, native.generated, run_warnings(results))
