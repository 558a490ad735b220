"""``selective`` (Kang et al., 2025): solve every item natively, score each non-English attempt
with an understanding-failure detector, and solve from the English translation only the items
it flags (above a fixed threshold, the probe's calibrated one, or the one that translates at
most ``budget`` of the items; never chosen with labels).

The run folder holds ``native/`` (an ordinary eval run of every item), ``scores.jsonl`` (each
item's detector score, reused while the native run and detector are the same),
``translated/<lang>/`` (translate-all runs of the flagged items only) and, as for any run,
``run.json``, ``generations.jsonl`` (each item's record from the route it took: ``route``
native or translated, with its ``score``), ``results.json`` and the reports; every stage resumes.
"""

from __future__ import annotations

import json
from pathlib import Path

from polyglot.cache import RecordCache
from polyglot.config import ConfigError
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
    load_run_translator,
    only_items,
    run_warnings,
    shared_backend,
)
from polyglot.files import read_json, write_lines
from polyglot.models import load_model, load_tokenizer
from polyglot.outputs import OutputRefused
from polyglot.provenance import fingerprint, make_card, model_identity, now, write_card
from polyglot.strategies.base import STRATEGIES, Strategy
from polyglot.strategies.selective.calibration import question_digests, top_share
from polyglot.strategies.selective.detectors import (
    check_detector,
    detector_scores,
    model_signals,
    probe_folder,
)
from polyglot.strategies.selective.probe import Probe
from polyglot.strategies.translate_all import TRANSLATORS_HINT

SCORES = "scores.jsonl"


def _scores(config, native_out: Path, records: dict[str, dict], out: Path) -> dict[str, float]:
    """The detector's score of every non-English native record (cached in OUT/scores.jsonl)."""

    native_run = read_json(native_out / "run.json", "run card")
    folder = probe_folder(config.detector)
    identity = {
        "detector": config.detector,
        "probe": fingerprint(folder) if folder else None,
        "native": native_run.get("inputs"),
        "native_config": native_run.get("config"),
    }
    # another native run or detector: scored again
    cache = RecordCache(out / SCORES, identity, other="replace", what="detector scores")
    if all(cache.get(key) for key in records):
        return {key: cache.get(key)["score"] for key in records}
    signals: dict = {}
    if config.detector != "language-drift":
        model = load_model(config.model, adapter=config.adapter, device=config.device,
                           dtype="float32", revision=config.revision)  # fmt: skip
        tokenizer = load_tokenizer(config.model, revision=config.revision, padding_side="right")
        # in key order: the passes' batches (and their float sums) never depend on the order
        # the generations were written in (replicas write them as they finish)
        records = dict(sorted(records.items()))
        signals = model_signals(model, tokenizer, records, [config.detector])
        del model
    scores = detector_scores(config.detector, records, signals)
    cache.clear()  # one pass over every record: the file holds one run's scores
    cache.add([{"key": k, "score": v} for k, v in scores.items()])
    return scores


def _flagged(config, scores: dict[str, float]) -> tuple[set[str], float | None, str]:
    """The items to translate, the threshold (None for a budget) and the rule that chose them;
    never reads a label."""

    if config.budget is not None:
        return (
            top_share(scores, config.budget),
            None,
            (
                f"the {config.budget:g} share of the non-English items with the highest scores "
                "(--budget; ties broken by item key)"
            ),
        )
    if config.threshold is not None:
        threshold, rule = config.threshold, "fixed (--threshold)"
    elif config.calibration is not None:
        meta = Probe.load(config.calibration).meta
        found = (meta.get("detectors") or {}).get(config.detector) or {}
        if found.get("threshold") is None:
            raise ConfigError(
                f"--calibration {config.calibration}: no threshold for {config.detector} "
                "(calibrated before it existed?); rerun `polyglot detect train`"
            )
        threshold = float(found["threshold"])
        rule = (
            f"{config.detector}'s max-F1 threshold on the calibration items of {config.calibration}"
        )
    else:
        probe = Probe.load(probe_folder(config.detector))
        threshold = float(probe.meta["threshold"])
        rule = "the probe's max-F1 threshold on its calibration items"
    return {k for k, v in scores.items() if v > threshold}, threshold, rule


def check_selective(config) -> None:
    """Everything about a selective run that can be refused before any generation: the output
    folder, one output per item, and the probe (another model's, another width of layers, or
    calibrated on the items being evaluated)."""

    if config.samples > 1:
        raise ConfigError("--strategy selective reads one output per item: use --samples 1")
    folder = probe_folder(config.detector) or (
        Path(config.calibration) if config.calibration else None
    )
    if folder is None:
        return
    probe = Probe.load(folder, model_identity(config.model, config.adapter, config.revision))
    local = Path(config.model) / "config.json"
    if local.is_file():
        layers = read_json(local, "model config").get("num_hidden_layers")
        if probe.meta.get("layers") not in (None, layers):
            raise ConfigError(
                f"{folder}: the probe was trained on a model with {probe.meta.get('layers')} "
                f"layers, this one has {layers}"
            )
    meta = probe.meta
    prompting = {"mode": config.mode, "shots": config.shots, "chat_template": config.chat_template,
                 "max_new_tokens": config.max_new_tokens}  # fmt: skip
    calibrated = {"mode": "native-cot", "shots": 0, "chat_template": False,
                  "max_new_tokens": meta.get("max_new_tokens"), **(meta.get("prompting") or {})}  # fmt: skip
    changed = [f"--{k.replace('_', '-')} {calibrated.get(k)} (this run: {v})"
               for k, v in prompting.items() if calibrated.get(k) != v]  # fmt: skip
    if changed:
        raise ConfigError(
            f"{folder}: the probe was calibrated on prompts made with {', '.join(changed)}; "
            "train one with this run's prompt settings (`polyglot detect train` takes them)"
        )
    dataset = config_dataset(config)
    if config.items is not None:
        dataset = only_items(dataset, config.items)
    if meta.get("calibration_questions") is not None:  # by content: any path or name
        seen = set(meta["calibration_questions"]) & set(question_digests(dataset))
        if seen:
            raise ConfigError(
                f"{folder}: the probe was calibrated on {len(seen)} of the questions evaluated "
                "here: its threshold would have seen their labels. Calibrate on other items "
                "(`polyglot detect train --data ...`, e.g. the train split) or evaluate other ones"
            )
    elif meta.get("benchmark") == config.benchmark and meta.get("data") == config.data:
        shared = sorted(set(meta.get("calibration_ids") or []) & set(dataset.ids))
        if shared:
            raise ConfigError(
                f"{folder}: the probe was calibrated on {len(shared)} of the items evaluated "
                f"here (e.g. {shared[0]}): its threshold would have seen their labels. "
                "Calibrate on other items (`polyglot detect train --data ...`, e.g. the train "
                "split) or evaluate other ones"
            )


def _cost(run: Path, records) -> dict[str, float]:
    rows = list(records)
    return {
        "generations": len(rows),
        "new_tokens": sum(
            sum(r["new_tokens"])
            if isinstance(r.get("new_tokens"), list)
            else r.get("new_tokens", 0)
            for r in rows
        ),
        "prompt_tokens": sum(r.get("prompt_tokens", 0) for r in rows),
        "seconds": sum(r.get("seconds", 0.0) for r in rows),
    }


@STRATEGIES.register("selective")
class Selective(Strategy):
    """Translate only the items a detector flags as not understood."""

    name = "selective"
    settings = ("translator", "inject", "detector", "budget", "threshold", "calibration")

    def check(self, config) -> None:

        if not config.translator:
            raise ValueError(f"--strategy selective needs --translator ({TRANSLATORS_HINT})")
        if not config.detector:
            raise ValueError(
                "--strategy selective needs --detector (confidence, confidence-min, "
                "prompt-nll, self-reflection, language-drift, probe:DIR)"
            )
        check_detector(config.detector)
        given = [name for name, value in (("--budget", config.budget),
                 ("--threshold", config.threshold), ("--calibration", config.calibration))
                 if value is not None]  # fmt: skip
        if len(given) > 1:
            raise ValueError(f"give one of {', '.join(given)}, not several")
        if config.budget is not None and not 0 < config.budget <= 1:
            raise ValueError(f"--budget {config.budget}: a share of the items, in (0, 1]")
        if not given and not config.detector.startswith("probe:"):
            raise ValueError(
                f"--detector {config.detector} has no calibrated threshold: give --budget "
                "(e.g. 0.2), --threshold, or --calibration DIR (a `polyglot detect train` "
                "folder: its max-F1 threshold)"
            )
        if config.calibration is not None and config.detector.startswith("probe:"):
            raise ValueError("a probe carries its own calibration: drop --calibration")

    def run(self, config, backends: dict):
        with claim_strategy_run(config):
            return _evaluate_selective(config, backends)


def _evaluate_selective(config, backends: dict | None = None):

    check_selective(config)
    backends = {} if backends is None else backends  # the sub-runs share one model load
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    plain = {"strategy": "native", "translator": None, "detector": None, "budget": None,
             "threshold": None, "inject": "replace"}  # fmt: skip

    def derived(update: dict):
        """A sub-run: reused when it is the same; replaced when its settings changed (these
        folders are this run's own), never regenerated only because --overwrite was given."""
        try:
            return execute(config.model_copy(update={**update, "overwrite": False}), backends)
        except ConfigError as err:
            overwrite_helps = isinstance(err, OutputRefused) and err.overwrite_helps
            if overwrite_helps and (config.overwrite or "translated" in update["out"]):
                return execute(config.model_copy(update={**update, "overwrite": True}), backends)
            raise

    # the translator loaded and checked on every language before anything is generated (the
    # translated sub-runs reuse it)

    dataset = config_dataset(config)
    if config.items is not None:
        dataset = only_items(dataset, config.items)
    load_run_translator(config.model_copy(update={"strategy": "translate-all"}), dataset,
                shared_backend(config, backends), backends)  # fmt: skip
    native = derived({**plain, "out": str(out / "native")})
    records = read_records(native.out / GENERATIONS)
    foreign = {k: r for k, r in records.items() if r["lang"] != "en"}
    scores = _scores(config, native.out, foreign, out)
    flagged, threshold, rule = _flagged(config, scores)
    plan = Plan(
        "selective",
        [Route(key, "translated", "en", config.translator) if key in flagged
         else Route(key, "native", record["lang"]) for key, record in records.items()],
        {"detector": config.detector, "threshold": threshold, "rule": rule},
    )  # fmt: skip
    routed = dict(records)
    generated = native.generated
    cost = _cost(native.out, records.values())
    languages = native.results["run"]["benchmark"]["languages"]
    for lang in languages:
        ids = [records[k]["id"] for k in sorted(flagged) if records[k]["lang"] == lang]
        folder = out / "translated" / lang
        if not ids:
            if folder.is_dir():
                import shutil

                shutil.rmtree(folder)  # nothing flagged in this language any more
            continue
        run = derived({"strategy": "translate-all", "detector": None, "budget": None,
                       "threshold": None, "languages": [lang], "items": ids,
                       "out": str(folder)})  # fmt: skip
        generated += run.generated
        translated = read_records(run.out / GENERATIONS)
        for part, value in _cost(run.out, translated.values()).items():
            cost[part] += value
        routed.update(translated)
    lines = []
    for key, record in routed.items():
        route = "translated" if key in flagged else "native"
        extra = {"route": route, "score": scores.get(key)}
        if route == "native" and record["lang"] != "en":
            extra.update(translated=False, translation=None, solved_in=record["lang"])
        lines.append(json.dumps({**record, **extra}, ensure_ascii=False))
    native_card = read_json(native.out / RUN_FILE, "run card")
    card = make_card(
        "eval-run",
        config.result_fields(),
        inputs=native_card.get("inputs"),
        model=native_card.get("model"),
        benchmark=native_card.get("benchmark"),
        dataset_hash=native_card.get("dataset_hash"),
        thinking=native_card.get("thinking"),
        started=now(),
        selective={
            "detector": config.detector,
            "threshold": threshold,
            "threshold_rule": rule,
            "flagged": len(flagged),
            "non_english_items": len(foreign),
            # everything generated: the native attempt at every item and the English attempt
            # at the flagged ones (the records keep only the route taken)
            "cost": {k: round(v, 2) for k, v in cost.items()},
        },
    )
    write_card(out, card, RUN_FILE)
    plan.write(out)
    write_lines(out / GENERATIONS, lines)
    results = finish_run(out)
    return RunResult(out, results, generated, run_warnings(results))
