"""The training core: the one story ``polyglot train`` and ``polyglot distill`` both tell.

``run_recipe(recipe, job)`` takes the output folder (``reuse`` a finished model, ``resume`` a
killed training, refuse another recipe's), builds the data as its own stage before any model
loads, loads the base model (LoRA or full), lets the job check everything against it before the
folder changes, writes the recipe record, fits, then writes the curve page and the summary and
evaluates the model as the recipe asks. A ``Job`` is what a command adds: its data stage, its
checks and its fit (``train/finetune.py``: causal-LM fine-tuning; ``distill/run.py``:
cross-lingual distillation). Under ``torchrun`` / ``accelerate launch`` the main process holds
the folder and speaks for all.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from polyglot.config import ConfigError
from polyglot.evaluate import EvalConfig, evaluate
from polyglot.files import check_output_dir, read_json, read_jsonl, write_atomic, write_json
from polyglot.generation.registry import close_backends
from polyglot.models import load_model, load_tokenizer, pick_device
from polyglot.outputs import Claim, claim, hold, identity_differences
from polyglot.report.charts import line_chart
from polyglot.train.trainer import CHECKPOINTS, CURVE

RECIPE_FILE = "recipe.yaml"
SUMMARY_FILE = "summary.json"


def _silent(message: str) -> None:
    return None


@dataclass
class Job:
    """What a command adds to the core (each callable gets the claimed folder ``out``)."""

    kind: str  # the output's kind: trained-model, distilled-model
    schema: str  # the summary's schema
    verb: str  # trained, distilled (for messages)
    inputs: dict  # the identity of what the recipe reads (fingerprints, data hashes)
    scratch: set[str]  # what it writes before it has a model (never a reason to refuse)
    # the data, built before any model loads: (out, progress, log) -> data
    build_data: Callable[[Path, bool, Callable], Any]
    # everything checked against the loaded base before the folder becomes this recipe's:
    # (data, model, tokenizer) -> what fit takes
    prepare: Callable[[Any, Any, Any], Any]
    # the training: (prepared, model, tokenizer, out, progress, log) -> the summary's fields,
    # "training" among them
    fit: Callable[[Any, Any, Any, Path, bool, Callable], dict]
    before_claim: Callable[[Path, int], None] = lambda out, rank: None
    on_reuse: Callable[[Path], None] = lambda out: None
    cleanup: Callable[[Path], None] = lambda out: None  # after the summary


def run_recipe(recipe, job: Job, *, overwrite: bool = False, progress: bool = True,
               log: Callable[[str], None] = print) -> dict:  # fmt: skip
    """Make (or reuse) ``recipe``'s model in ``recipe.out`` with ``job``; returns the summary."""
    rank = process_rank()
    if rank:  # under torchrun / accelerate launch: the main process speaks for all
        log, progress = _silent, False
    out = check_output_dir(recipe.out)
    # the main process holds the folder before anything in it changes; the others of its
    # launch decide as it does (the same overwrite), without the lock
    with hold(out) if not rank else nullcontext():
        job.before_claim(out, rank)
        taken = claim_model_folder(out, recipe, overwrite, job.inputs, scratch=job.scratch,
                                   kind=job.kind, lock=not rank)  # fmt: skip
    with taken:
        if taken.state == "reuse":
            if rank:  # the main process re-evaluates and reports
                return {"schema": job.schema, "rank": rank}
            job.on_reuse(out)
            log(f"{out}: already {job.verb} with this recipe; reusing it (--overwrite to redo)")
            return reuse_trained(recipe, out, progress=progress, log=log)
        # library deprecation notices (peft asks transformers for is_gradient_checkpointing)
        # are not for users
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        out.mkdir(parents=True, exist_ok=True)
        data = job.build_data(out, progress, log)
        model, tokenizer = load_base(recipe)
        prepared = job.prepare(data, model, tokenizer)
        if not rank:  # all checked: from here the folder is this recipe's
            if taken.state == "fresh":  # a model made otherwise goes now (scratch is kept)
                for child in out.iterdir():
                    if child.name not in job.scratch:
                        shutil.rmtree(child) if child.is_dir() else child.unlink()
            shutil.rmtree(out / "eval", ignore_errors=True)  # evaluations of a replaced model
            record = {"identity": recipe.identity(), "inputs": job.inputs,
                      "recipe": recipe.model_dump(mode="json")}  # fmt: skip
            write_atomic(out / RECIPE_FILE,
                         yaml.safe_dump(record, allow_unicode=True, sort_keys=False))  # fmt: skip
        try:
            fields = job.fit(prepared, model, tokenizer, out, progress, log)
        except ConfigError:
            # refused before a step was taken (nothing to train on, ...): the folder is free
            if not rank and not any((out / CHECKPOINTS).glob("checkpoint-*")):
                (out / RECIPE_FILE).unlink(missing_ok=True)
            raise
        if rank:  # the main process writes the curve, evaluates and summarizes
            return {"schema": job.schema, "training": fields["training"], "rank": rank}
        (out / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
        curve_page(out)
        summary = {"schema": job.schema, "recipe": recipe.model_dump(mode="json"), **fields}
        summary = write_summary_and_evaluate(recipe, out, summary, progress=progress)
        job.cleanup(out)
        return summary


def claim_model_folder(
    out: Path,
    recipe,
    overwrite: bool,
    inputs: dict,
    *,
    scratch: set[str],
    kind: str = "trained-model",
    lock: bool = True,
) -> Claim:
    """Take ``out`` for the model ``recipe`` makes (a ``trained-model`` or, for a distillation
    recipe, a ``distilled-model``): ``reuse`` when it holds this recipe's finished model,
    ``resume`` when its training was cut short; another recipe's model is refused unless
    ``overwrite``, and another command's folder (or the base model's own) always. ``inputs``:
    the identity of what the recipe reads; ``lock=False``
    on the helper processes of a distributed run (the main one holds the folder)."""
    base = Path(recipe.base)
    if base.exists():
        resolved, base_resolved = out.resolve(), base.resolve()
        if (
            resolved == base_resolved
            or base_resolved in resolved.parents
            or resolved in base_resolved.parents
        ):
            raise ConfigError(
                f"out {out}: is the base model's folder or contains it; choose another out"
            )
    wanted = {"identity": recipe.identity(), "inputs": inputs}
    return claim(
        out,
        kind,
        wanted,
        overwrite=overwrite,
        record=_recorded_recipe,
        complete=lambda folder: (folder / SUMMARY_FILE).is_file(),
        differences=lambda previous: identity_differences(
            {"identity": previous.get("identity"), "inputs": previous.get("inputs")}, wanted
        ),
        scratch=scratch,
        lock=lock,
    )


def _recorded_recipe(folder: Path) -> dict | None:
    """What a model folder's ``recipe.yaml`` says made it, with its kind; None without one."""
    recorded = folder / RECIPE_FILE
    if not recorded.is_file():
        return None
    try:
        previous = yaml.safe_load(recorded.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        previous = None
    if not isinstance(previous, dict):
        raise ConfigError(f"{recorded}: damaged recipe record")
    distilled = "teacher" in (previous.get("recipe") or {})
    return {**previous, "kind": "distilled-model" if distilled else "trained-model"}


def load_base(recipe):
    import torch

    device = pick_device(recipe.device)
    tokenizer = load_tokenizer(recipe.base, padding_side="right")
    if tokenizer.pad_token_id is None:  # many base models have none: pad with EOS (not trained)
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if tokenizer.eos_token_id is None:
        raise ConfigError(f"the tokenizer of '{recipe.base}' has no EOS token to end responses")
    dtype = "bfloat16" if recipe.method == "lora" and device == "cuda" else "float32"
    model = load_model(recipe.base, dtype=dtype, device=device, eval_mode=False)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if recipe.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = recipe.lora
        torch.manual_seed(recipe.training.seed)
        try:
            model = get_peft_model(
                model,
                LoraConfig(
                    r=lora.rank,
                    lora_alpha=lora.alpha,
                    lora_dropout=lora.dropout,
                    target_modules=lora.target_modules,
                    task_type="CAUSAL_LM",
                ),
            )
        except ValueError as err:  # peft: no module matches the names
            names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if n})
            raise ConfigError(
                f"lora.target_modules {lora.target_modules!r} does not fit '{recipe.base}' "
                f"({str(err).splitlines()[0][:120]}); its module names include "
                f"{', '.join(n for n in names if not n.isdigit())[:300]}"
            ) from None
    return model, tokenizer


def curve_page(out: Path) -> None:
    """``curve.html``: the loss per step (from ``curve.jsonl``) as a small chart."""

    rows = read_jsonl(out / CURVE)
    # the loss, and what a distillation logs beside it (its divergence and cross-entropy)
    series = [
        (key, [r["step"] for r in rows if key in r], [r[key] for r in rows if key in r])
        for key in ("loss", "divergence", "ce")
        if any(key in r for r in rows)
    ]
    svg = line_chart(
        f"training loss: {out.name}",
        series,
        x_label="step",
        y_label="loss",
        markers=len(rows) <= 60,
    )
    write_atomic(
        out / "curve.html",
        f"<!doctype html><meta charset='utf-8'><title>{out.name}: training loss</title>"
        f"<body style='font-family:sans-serif'>{svg}</body>",
    )


def evaluate_trained(
    recipe,
    out: Path,
    model_dir: Path | None = None,
    *,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """``polyglot eval`` of the trained model (``model_dir``, default ``out``) on the recipe's
    benchmarks, into ``out/eval/<benchmark>``; returns accuracy per benchmark and language."""

    model_dir = model_dir or out
    adapter = (model_dir / "adapter_config.json").is_file()
    figures = {}
    backends: dict = {}
    try:
        for bench in recipe.eval.benchmarks if recipe.eval else []:
            run = evaluate(
                EvalConfig(
                    model=recipe.base if adapter else str(model_dir),
                    adapter=str(model_dir) if adapter else None,
                    benchmark=bench.name,
                    languages=bench.languages,
                    data=bench.data,
                    limit=bench.limit,
                    mode=recipe.prompt_mode,
                    chat_template=recipe.format == "chat",
                    max_new_tokens=recipe.eval.max_new_tokens,
                    device=recipe.device,
                    out=str(out / "eval" / bench.name),
                    progress=progress,
                    overwrite=overwrite,
                    backend=recipe.eval.backend,
                    **recipe.eval.engine(),
                ),
                backends,
            )
            figures[bench.name] = {
                lang: {
                    "accuracy": r["accuracy"],
                    "ci95": r["ci95"],
                    "n": r["n"],
                    "fidelity": (r.get("fidelity") or {}).get("target"),
                }
                for lang, r in run.results["languages"].items()
            }
    finally:  # engines with replicas of their own stop here, not at exit
        close_backends(backends)
    return figures


def reuse_trained(recipe, out: Path, *, progress: bool = True, log=print) -> dict:
    """The summary of a model already in ``out``, evaluated again when the recipe asks for
    another evaluation or a kill cut the last one short (``recipe``: a training or
    distillation recipe)."""
    summary = read_json(out / SUMMARY_FILE, "training summary")
    wanted = recipe.eval.identity() if recipe.eval else None
    if wanted is None:
        return {**summary, "eval": None}  # this recipe asks for no evaluation
    if summary.get("eval") is None or summary.get("eval_config") != wanted:
        log("evaluating it with this recipe's eval settings ...")
        summary["eval"] = evaluate_trained(recipe, out, progress=progress, overwrite=True)
        summary["eval_config"] = wanted
        write_json(out / SUMMARY_FILE, summary)
    return summary


def write_summary_and_evaluate(recipe, out: Path, summary: dict, *, progress: bool = True) -> dict:
    """Write ``summary`` (the model is done even if the eval fails), then evaluate the model
    as the recipe asks and write it again with the figures."""
    summary = {
        **summary,
        "eval": None,
        "eval_config": recipe.eval.identity() if recipe.eval else None,
    }
    write_json(out / SUMMARY_FILE, summary)
    if recipe.eval:
        summary["eval"] = evaluate_trained(recipe, out, progress=progress)
        write_json(out / SUMMARY_FILE, summary)
    return summary


def world_size() -> int:
    """The processes of this torchrun / accelerate launch (1 when alone)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def process_rank() -> int:
    """This process's rank under torchrun / accelerate launch (0 when alone)."""
    return int(os.environ.get("RANK", "0"))
