"""``polyglot detect train``: build the labelled calibration set of a model (its native attempt
at each item, and its attempt with the reference English understanding), train the probe, and
judge every detector on held-out items.

Output folder: ``native/`` and ``understood/`` (two ordinary eval runs, resumable),
``probe.safetensors`` + ``probe.json`` (the model's fingerprint and layer width, the labels,
the splits, the probe's max-F1 threshold, and every detector's held-out report), ``report.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from polyglot.config import ConfigError, validate_model
from polyglot.evaluate import EvalConfig, evaluate
from polyglot.evaluate.records import read_records
from polyglot.evaluate.runner import config_dataset
from polyglot.files import write_atomic
from polyglot.models import load_model, load_tokenizer
from polyglot.outputs import OutputRefused, claim
from polyglot.provenance import make_card, model_identity, read_card, write_card
from polyglot.report.pages import markdown_table
from polyglot.strategies.selective.calibration import (
    label_items,
    max_f1_threshold,
    question_digests,
    report,
    split_by_item,
)
from polyglot.strategies.selective.detectors import detector_scores, model_signals, signal_detectors
from polyglot.strategies.selective.probe import KINDS, Probe

KIND = "detector-calibration"

SPLITS = (0.6, 0.2, 0.2)  # probe training, validation (early stopping, thresholds), held out


def detector_report(
    scores: dict[str, float], labels: dict[str, int], fit_keys: list[str], held_out: list[str]
) -> dict:
    """Max-F1 threshold on ``fit_keys``, metrics on ``held_out`` (never the other way)."""

    threshold = max_f1_threshold([scores[k] for k in fit_keys], [labels[k] for k in fit_keys])
    return report([scores[k] for k in held_out], [labels[k] for k in held_out], threshold)


def train_detectors(
    model: str,
    out: str | Path,
    *,
    benchmark: str = "testbed",
    languages: list[str] | str = "all",
    data: str | None = None,
    limit: int | None = None,
    max_new_tokens: int = 160,
    device: str = "auto",
    adapter: str | None = None,
    revision: str | None = None,
    mode: str = "native-cot",
    shots: int = 0,
    chat_template: bool = False,
    seed: int = 0,
    probe_kind: str = "logistic",
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """See the module docstring; the prompt settings (``mode``, ``shots``, ``chat_template``)
    are those of the runs the probe will watch, and are recorded with it."""

    if probe_kind not in KINDS:
        raise ConfigError(f"--probe {probe_kind}: one of {', '.join(KINDS)}")
    out = Path(out)
    common = dict(model=model, benchmark=benchmark, languages=languages, data=data, limit=limit,
                  max_new_tokens=max_new_tokens, device=device, progress=progress,
                  adapter=adapter, revision=revision, mode=mode, shots=shots,
                  chat_template=chat_template)  # fmt: skip
    # both settings checked before anything runs (a bad --mode is one line, not a traceback)
    native_config = validate_model({**common, "out": str(out / "native")}, EvalConfig,
                                   source="polyglot detect train")  # fmt: skip
    understood_config = native_config.model_copy(
        update={"strategy": "translate-all", "translator": "reference",
                "out": str(out / "understood")}
    )  # fmt: skip
    # the two runs inside decide what is reused; this folder's card says what made it
    with claim(out, KIND, overwrite=overwrite, differences=lambda previous: [],
               ours=("native", "probe.json")) as taken:  # fmt: skip
        card = make_card(KIND, native_config.result_fields())
        if taken.previous is None:  # a new folder says at once what it is for
            write_card(taken.folder, card)
        meta = _calibrate(taken.folder, native_config, understood_config, model=model,
                          adapter=adapter, revision=revision, device=device, benchmark=benchmark,
                          data=data, limit=limit, max_new_tokens=max_new_tokens, mode=mode,
                          shots=shots, chat_template=chat_template, seed=seed,
                          probe_kind=probe_kind, overwrite=overwrite, log=log)  # fmt: skip
        write_card(taken.folder, card)  # what made the probe now in the folder
        return meta


def _calibrate(out, native_config, understood_config, *, model, adapter, revision, device,
               benchmark, data, limit, max_new_tokens, mode, shots, chat_template, seed,
               probe_kind, overwrite, log) -> dict:  # fmt: skip

    log(f"[1/4] the model's native attempt at each calibration item -> {out / 'native'}")
    backends: dict = {}  # both runs generate with the same settings: one model load

    def run(config):
        """Reused when the same; with ``overwrite``, replaced when its settings changed."""
        try:
            return evaluate(config, backends)
        except ConfigError as err:
            if not (overwrite and isinstance(err, OutputRefused) and err.overwrite_helps):
                message = str(err).replace("Pass --overwrite", "pass --overwrite")
                message = message.replace("pass --overwrite", "pass --overwrite to "
                                          "`polyglot detect train`")  # fmt: skip
                if isinstance(err, OutputRefused):
                    raise OutputRefused(message, folder=err.folder,
                                        overwrite_helps=err.overwrite_helps,
                                        differences=err.differences) from None  # fmt: skip
                raise ConfigError(message) from None
            return evaluate(config.model_copy(update={"overwrite": True}), backends)

    native = run(native_config)
    log(f"[2/4] its attempt with the reference English -> {out / 'understood'}")
    understood = run(understood_config)
    backends.clear()
    native_records = read_records(native.out / "generations.jsonl")
    labels = label_items(native_records, read_records(understood.out / "generations.jsonl"))
    positives = sum(labels.values())
    log(f"labels: {positives} not understood, {len(labels) - positives} understood "
        f"({len(native_records) - len(labels)} items left out: English, or wrong both ways)")  # fmt: skip
    if len(labels) < 10 or positives < 2 or positives > len(labels) - 2:
        raise ConfigError(
            f"{len(labels)} labelled items ({positives} not understood): too few of one class "
            "to train and judge detectors; give more items (--limit) or other languages"
        )
    log("[3/4] signals: one pass over prompt + trace per item")
    loaded = load_model(model, adapter=adapter, revision=revision, device=device, dtype="float32")
    tokenizer = load_tokenizer(model, revision=revision, padding_side="right")
    keys = sorted(labels)
    signals = model_signals(
        loaded, tokenizer, {k: native_records[k] for k in keys}, signal_detectors()
    )
    train, val, held_out = split_by_item(keys, SPLITS, seed)
    log(f"[4/4] the probe ({len(train)} training, {len(val)} validation items), and every "
        f"detector judged on {len(held_out)} held-out items")  # fmt: skip
    probe = Probe.fit([signals[k]["hidden"] for k in train], [labels[k] for k in train],
                      [signals[k]["hidden"] for k in val], [labels[k] for k in val], seed=seed,
                      kind=probe_kind)  # fmt: skip
    labelled = {k: native_records[k] for k in keys}
    reports = {}
    for name in signal_detectors():
        reports[name] = detector_report(
            detector_scores(name, labelled, signals), labels, train + val, held_out
        )
    probe_scores = probe.scores({k: signals[k]["hidden"] for k in keys})
    reports["probe"] = detector_report(probe_scores, labels, val, held_out)
    card = read_card(native.out, "run.json") or {}
    meta = {
        "schema": "polyglot.strategies.selective.probe/1",
        "model": model,
        "model_identity": model_identity(model, adapter, revision),
        "adapter": adapter,
        # the prompts the probe read: a run prompted otherwise is refused (its hidden states
        # and scores are not the ones the threshold was calibrated on)
        "prompting": {
            "mode": mode,
            "shots": shots,
            "chat_template": chat_template,
            "max_new_tokens": max_new_tokens,
        },  # fmt: skip
        "hidden_size": int(probe.mean.shape[0]),
        "layers": getattr(loaded.config, "num_hidden_layers", None),
        "benchmark": benchmark,
        "languages": native.results["run"]["benchmark"]["languages"],
        "data": data,
        "limit": limit,
        "max_new_tokens": max_new_tokens,
        # the calibration items: an evaluation of the same items would let the probe's
        # threshold see its labels (selective refuses it)
        "calibration_ids": sorted({k.split("/", 1)[1] for k in keys}),
        # what the items say, whatever file or benchmark name they come under: an evaluation
        # of any of them is refused (see polyglot.strategies.selective.calibration.question_digests)
        "calibration_questions": question_digests(config_dataset(native_config)),
        "dataset_hash": card.get("dataset_hash"),
        "labels": {"not_understood": positives, "understood": len(labels) - positives},
        "splits": {"train": len(train), "validation": len(val), "held_out": len(held_out)},
        "threshold": reports["probe"]["threshold"],
        "held_out_keys": held_out,
        "detectors": reports,
    }
    probe.save(out, meta)
    write_atomic(out / "report.md", report_markdown(meta))
    return meta


def report_markdown(meta: dict) -> str:
    rows = [
        [name, str(r["n"]), str(r["positives"]), f"{r['balanced_accuracy']:.3f}", f"{r['f1']:.3f}",
         "–" if r["pr_auc"] is None else f"{r['pr_auc']:.3f}",
         "–" if r["roc_auc"] is None else f"{r['roc_auc']:.3f}", f"{100 * r['flag_rate']:.1f}%"]
        for name, r in meta["detectors"].items()
    ]  # fmt: skip
    headers = ["detector", "held-out items", "not understood", "balanced acc.", "F1", "PR-AUC",
               "ROC-AUC", "flagged"]  # fmt: skip
    return (
        f"# Understanding-failure detectors for {meta['model']}\n\n"
        f"Calibration: {meta['benchmark']} ({', '.join(meta['languages'])}), labels "
        f"{meta['labels']}, splits {meta['splits']}. Thresholds: max F1 on the training and "
        "validation items; the figures below are on the held-out items only.\n\n"
        + markdown_table(headers, rows)
        + "\n"
    )
