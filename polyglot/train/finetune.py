"""``polyglot train``: fine-tune a base model on a recipe (LoRA or full), then evaluate it.

The output folder holds the adapter (or the full model), its tokenizer, ``recipe.yaml`` (the
resolved recipe), ``curve.jsonl`` and ``curve.html`` (loss per step), ``eval/<benchmark>/``
(``polyglot eval`` runs of the trained model), ``summary.json`` and the card. A rerun of the
same recipe reuses the trained model (and resumes a killed training from its last
checkpoint); a folder trained with another recipe is refused unless ``overwrite``.

Precision: float32 on the CPU; on a GPU, bf16 autocast (full fine-tuning keeps float32 master
weights; LoRA loads the frozen base in bf16). ``accelerate launch -m polyglot train ...`` runs
the same recipe on several GPUs (transformers' Trainer does DDP/FSDP under accelerate).
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import yaml

from polyglot.config import ConfigError, validate_model
from polyglot.data.build import DATA_FILE, DataBuildConfig, build_identity, source_fingerprint
from polyglot.evaluate import EvalConfig, evaluate
from polyglot.files import (
    append_jsonl,
    check_output_dir,
    read_json,
    read_jsonl,
    write_atomic,
    write_json,
)
from polyglot.generation.registry import close_backends
from polyglot.models import load_model, load_tokenizer, pick_device, quiet_transformers
from polyglot.outputs import Claim, claim, identity_differences
from polyglot.provenance import (
    fingerprint,
    hash_file,
    make_card,
    model_identity,
    read_card,
    tree_hash,
    write_card,
)
from polyglot.report.charts import line_chart
from polyglot.train.recipe import TrainRecipe
from polyglot.train.sources import build_sources, load_examples
from polyglot.train.trainer import CHECKPOINTS, CURVE, train_causal_lm

RECIPE_FILE = "recipe.yaml"
SUMMARY_FILE = "summary.json"


SCRATCH = {CHECKPOINTS, "_data", "_evals"}  # what a training writes before it has a model


def claim_model_folder(
    out: Path,
    recipe,
    overwrite: bool,
    inputs: dict | None = None,
    *,
    scratch: set[str] = SCRATCH,
    kind: str = "trained-model",
    lock: bool = True,
) -> Claim:
    """Take ``out`` for the model ``recipe`` makes (a ``trained-model`` or, for a distillation
    recipe, a ``distilled-model``): ``reuse`` when it holds this recipe's finished model,
    ``resume`` when its training was cut short; another recipe's model is refused unless
    ``overwrite``, and another command's folder (or the base model's own) always. ``inputs``:
    the identity of what the recipe reads (a training recipe's own by default); ``lock=False``
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
    wanted = {
        "identity": recipe.identity(),
        "inputs": _inputs(recipe) if inputs is None else inputs,
    }
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


def _inputs(recipe: TrainRecipe) -> dict:
    """The identity of what the recipe reads: the base model's files and the data files."""

    files = []
    for source in recipe.data:
        if source.path is not None:
            path = Path(source.path)
            path = path / "data.jsonl" if path.is_dir() else path
            files.append(hash_file(path)[:16] if path.is_file() else None)
        elif source.dataset is not None:
            local = Path(source.dataset)
            files.append(tree_hash(local) if local.is_dir() else f"{source.dataset}:{source.split}")
        else:
            config = validate_model({**source.build, "out": "-"}, DataBuildConfig, "build")
            files.append(source_fingerprint(config))
    return {"base": model_identity(recipe.base), "data": files}


def load_base(recipe: TrainRecipe):
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
    recipe: TrainRecipe,
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


class _EvalEvery:
    """A Trainer callback: every N steps, save the model and evaluate it (figures appended to
    ``eval_curve.jsonl``)."""

    def __new__(cls, recipe: TrainRecipe, out: Path, tokenizer, log):
        from transformers import TrainerCallback

        class EvalEvery(TrainerCallback):
            def on_step_end(self, args, state, control, model=None, **kwargs):
                every = recipe.eval.every
                if not every or state.global_step % every or state.global_step == args.max_steps:
                    return
                if not state.is_world_process_zero:
                    return
                folder = out / "_evals" / f"step-{state.global_step}"
                model.save_pretrained(str(folder))
                tokenizer.save_pretrained(str(folder))
                log(f"evaluating at step {state.global_step} ...")
                figures = evaluate_trained(recipe, folder, folder, progress=False)

                append_jsonl(out / "eval_curve.jsonl", [{"step": state.global_step, **figures}])
                model.train()

        return EvalEvery()


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


def train(
    recipe: TrainRecipe,
    *,
    overwrite: bool = False,
    skip_bad: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Train ``recipe`` into ``recipe.out`` (or reuse it), evaluate it, return the summary."""
    with claim_model_folder(Path(recipe.out), recipe, overwrite, lock=process_rank() == 0) as taken:
        out = taken.folder
        if taken.state == "reuse":
            if process_rank() != 0:  # the main process re-evaluates and reports
                return {"schema": "polyglot.train/1", "rank": process_rank()}
            log(f"{out}: already trained with this recipe; reusing it (--overwrite to retrain)")
            return reuse_trained(recipe, out, progress=progress, log=log)
        return _train_into(recipe, out, taken.state == "fresh", skip_bad, progress, log)


def _train_into(recipe: TrainRecipe, out: Path, fresh: bool, skip_bad: bool, progress: bool,
                log: Callable[[str], None]) -> dict:  # fmt: skip
    """Train into the claimed folder ``out`` (``fresh``: what a finished model left goes)."""
    if process_rank() != 0:  # under torchrun / accelerate launch: the main process speaks for all
        log, progress = (lambda message: None), False
    # library deprecation notices (peft asks transformers for is_gradient_checkpointing) are
    # not for users
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    model, tokenizer = load_base(recipe)
    if fresh and out.is_dir() and process_rank() == 0:
        for child in out.iterdir():
            if child.name not in SCRATCH:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    if process_rank() == 0:
        build_sources(recipe, out, log=log, skip_bad=skip_bad)
    else:  # under `accelerate launch`: the main process builds the data, the others wait
        _wait_for_sources(recipe, out)
    examples, sources = load_examples(recipe, tokenizer, skip_bad=skip_bad, out=out)
    rows = len(examples)
    if process_rank() == 0:  # the data loaded: from here the folder is this recipe's
        write_atomic(
            out / RECIPE_FILE,
            yaml.safe_dump(
                {
                    "identity": recipe.identity(),
                    "inputs": _inputs(recipe),
                    "recipe": recipe.model_dump(mode="json"),
                },
                allow_unicode=True,
                sort_keys=False,
            ),
        )
    config = recipe.training.for_examples(rows, world_size())
    data_hash = _examples_hash(examples)
    import os

    processes = int(os.environ.get("WORLD_SIZE", "1"))
    per = f" per process x {processes} processes" if processes > 1 else ""
    log(
        f"training {recipe.method} on {rows} examples from {len(sources)} source(s), "
        f"{config.steps} steps of {config.batch_size}{per} ..."
    )
    callbacks = (
        [_EvalEvery(recipe, out, tokenizer, log)] if recipe.eval and recipe.eval.every else []
    )
    try:
        info = train_causal_lm(
            model,
            tokenizer,
            examples,
            config,
            out,
            progress=progress,
            callbacks=callbacks,
            inputs={"base": model_identity(recipe.base), "examples": data_hash},
            log=log,
        )
    except ConfigError:
        # refused before a step was taken (nothing to train on, ...): the folder is free again
        if process_rank() == 0 and not any((out / CHECKPOINTS).glob("checkpoint-*")):
            (out / RECIPE_FILE).unlink(missing_ok=True)
        raise
    (out / "README.md").unlink(missing_ok=True)  # peft's empty model-card template; see card.md
    if process_rank() != 0:  # the main process writes the curve, evaluates and summarizes
        return {"schema": "polyglot.train/1", "training": info, "rank": process_rank()}
    curve_page(out)
    summary = {
        "schema": "polyglot.train/1",
        "recipe": recipe.model_dump(mode="json"),
        "training": info,
        "sources": [s.__dict__ for s in sources],
        "examples": rows,
        "examples_hash": data_hash,
        "eval": None,
        "eval_config": recipe.eval.identity() if recipe.eval else None,
    }
    summary = write_summary_and_evaluate(recipe, out, summary, progress=progress)
    shutil.rmtree(out / "_evals", ignore_errors=True)
    return summary


def world_size() -> int:
    import os

    return int(os.environ.get("WORLD_SIZE", "1"))


def process_rank() -> int:
    """This process's rank under torchrun / accelerate launch (0 when alone)."""
    import os

    return int(os.environ.get("RANK", "0"))


def _wait_for_sources(recipe: TrainRecipe, out: Path, timeout: float = 3600) -> None:
    """On a process other than the main one: wait until every ``build`` source is built with
    this recipe's config and source (not an older build left in the folder)."""
    import time

    wanted = []
    for index, source in enumerate(recipe.data):
        if source.build is not None:
            folder = out / "_data" / f"source-{index}"
            config = validate_model(
                {**source.build, "out": str(folder)}, DataBuildConfig, source="build"
            )
            wanted.append((folder, build_identity(config)))

    def ready(folder: Path, identity: dict) -> bool:
        card = read_card(folder) if (folder / DATA_FILE).is_file() else None
        return card is not None and card.get("config") == identity

    deadline = time.time() + timeout
    while not all(ready(folder, identity) for folder, identity in wanted):
        if time.time() > deadline:
            raise ConfigError(
                f"rank {process_rank()}: the main process did not build {wanted[0][0]}"
            )
        time.sleep(1)


def _examples_hash(examples: list[tuple[str, str]]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for prompt, response in examples:
        digest.update(json.dumps([prompt, response], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def merge_adapter(adapter: str | Path, out: str | Path, *, base: str | None = None) -> Path:
    """Fold the LoRA adapter at ``adapter`` into its base model and save the full model to
    ``out`` (loadable by ``from_pretrained`` without peft)."""

    adapter = Path(adapter)
    config_file = adapter / "adapter_config.json"
    if not config_file.is_file():
        raise ConfigError(f"no LoRA adapter at '{adapter}' (adapter_config.json missing)")
    base = base or read_json(config_file, "adapter config").get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"{config_file}: names no base model; pass --base")
    out = check_output_dir(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: not empty; choose another --out")
    model = load_model(base, adapter=str(adapter), device="cpu", dtype="float32")
    tokenizer = load_tokenizer(str(adapter), padding_side=None)
    with quiet_transformers():
        model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    write_card(
        out,
        make_card(
            "merged-adapter",
            {"base": base, "adapter": str(adapter)},
            {"base": model_identity(base), "adapter": fingerprint(adapter)},
        ),
    )
    return out
