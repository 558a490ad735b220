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

from polyglot.config import ConfigError
from polyglot.files import append_jsonl, check_output_dir, read_json, write_lines

SCORES = "scores.jsonl"


def _scores(config, native_out: Path, records: dict[str, dict], out: Path) -> dict[str, float]:
    """The detector's score of every non-English native record (cached in OUT/scores.jsonl)."""
    from polyglot.detect.understanding import detector_scores, probe_folder
    from polyglot.provenance import fingerprint

    native_run = read_json(native_out / "run.json", "run card")
    folder = probe_folder(config.detector)
    identity = {
        "detector": config.detector,
        "probe": fingerprint(folder) if folder else None,
        "native": native_run.get("inputs"),
        "native_config": native_run.get("config"),
    }
    path = out / SCORES
    if path.is_file():
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
        if lines and lines[0].get("identity") == identity:
            cached = {r["key"]: r["score"] for r in lines[1:]}
            if set(records) <= set(cached):
                return {k: cached[k] for k in records}
    signals: dict = {}
    if config.detector != "language-drift":
        from polyglot.detect.probe import Probe
        from polyglot.detect.signals import trace_signals
        from polyglot.models import load_model, load_tokenizer

        model = load_model(config.model, adapter=config.adapter, device=config.device,
                           dtype="float32", revision=config.revision)  # fmt: skip
        if folder is not None:
            probe = Probe.load(folder, fingerprint(config.model))
            layers = getattr(model.config, "num_hidden_layers", None)
            if probe.meta.get("layers") not in (None, layers):
                raise ConfigError(
                    f"{folder}: the probe was trained on a model with {probe.meta.get('layers')} "
                    f"layers, this one has {layers}"
                )
        tokenizer = load_tokenizer(config.model, revision=config.revision, padding_side="right")
        signals = trace_signals(model, tokenizer, list(records.values()))
        del model
    scores = detector_scores(config.detector, records, signals)
    write_lines(path, [json.dumps({"identity": identity})])
    append_jsonl(path, [{"key": k, "score": v} for k, v in scores.items()])
    return scores


def _threshold(config, scores: dict[str, float]) -> tuple[float, str]:
    from polyglot.detect.calibration import budget_threshold
    from polyglot.detect.probe import Probe
    from polyglot.detect.understanding import probe_folder

    if config.threshold is not None:
        return config.threshold, "fixed (--threshold)"
    if config.budget is not None:
        return budget_threshold(list(scores.values()), config.budget), (
            f"at most {config.budget:g} of the non-English items translated (--budget)"
        )
    probe = Probe.load(probe_folder(config.detector))
    return float(probe.meta["threshold"]), "the probe's max-F1 threshold on its calibration items"


def evaluate_selective(config, backends: dict | None = None):
    from polyglot.evaluate.records import read_records
    from polyglot.evaluate.runner import (
        GENERATIONS,
        RUN_FILE,
        RunResult,
        evaluate,
        finish_run,
        run_warnings,
    )
    from polyglot.provenance import make_card, now, read_card, write_card

    out = check_output_dir(config.out)
    out.mkdir(parents=True, exist_ok=True)
    previous = read_card(out, RUN_FILE)
    if (
        previous is not None
        and previous.get("config") != config.result_fields()
        and not config.overwrite
    ):
        raise ConfigError(
            f"{out} holds another run (other settings); pass --overwrite to recompute it, "
            "or choose another --out"
        )
    plain = {"strategy": "native", "translator": None, "detector": None, "budget": None,
             "threshold": None, "inject": "replace"}  # fmt: skip
    native = evaluate(config.model_copy(update={**plain, "out": str(out / "native")}), backends)
    records = read_records(native.out / GENERATIONS)
    foreign = {k: r for k, r in records.items() if r["lang"] != "en"}
    scores = _scores(config, native.out, foreign, out)
    threshold, rule = _threshold(config, scores)
    flagged = {k for k, s in scores.items() if s > threshold}
    routed = dict(records)
    generated = native.generated
    for lang in native.results["run"]["benchmark"]["languages"]:
        ids = [records[k]["id"] for k in sorted(flagged) if records[k]["lang"] == lang]
        if not ids:
            continue
        run = evaluate(
            config.model_copy(update={"strategy": "translate-all", "detector": None,
                                      "budget": None, "threshold": None, "languages": [lang],
                                      "items": ids, "out": str(out / "translated" / lang)}),
            backends,
        )  # fmt: skip
        generated += run.generated
        for key, record in read_records(run.out / GENERATIONS).items():
            routed[key] = record
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
        },
    )
    write_card(out, card, RUN_FILE)
    write_lines(out / GENERATIONS, lines)
    results = finish_run(out)
    return RunResult(out, results, generated, run_warnings(results))
