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
from collections.abc import Callable
from pathlib import Path

from polyglot.config import ConfigError, validate_model
from polyglot.data.build import DATA_FILE, DataBuildConfig, build_identity, source_fingerprint
from polyglot.files import (
    append_jsonl,
    check_output_dir,
    read_json,
)
from polyglot.models import load_model, load_tokenizer, quiet_transformers
from polyglot.provenance import (
    fingerprint,
    hash_file,
    make_card,
    model_identity,
    read_card,
    tree_hash,
    write_card,
)
from polyglot.train.core import Job, evaluate_trained, process_rank, run_recipe, world_size
from polyglot.train.recipe import TrainRecipe
from polyglot.train.sources import build_sources, load_examples
from polyglot.train.trainer import CHECKPOINTS, train_causal_lm

RECIPE_FILE = "recipe.yaml"
SUMMARY_FILE = "summary.json"


SCRATCH = {CHECKPOINTS, "_data", "_evals"}  # what a training writes before it has a model


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


def train(
    recipe: TrainRecipe,
    *,
    overwrite: bool = False,
    skip_bad: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Train ``recipe`` into ``recipe.out`` (or reuse it), evaluate it, return the summary."""

    def build_data(out: Path, progress: bool, log) -> None:
        if process_rank() == 0:
            build_sources(recipe, out, log=log, skip_bad=skip_bad)
        else:  # under `accelerate launch`: the main process builds the data, the others wait
            _wait_for_sources(recipe, out)

    def prepare(data, model, tokenizer):
        return load_examples(recipe, tokenizer, skip_bad=skip_bad, out=Path(recipe.out))

    def fit(prepared, model, tokenizer, out: Path, progress: bool, log) -> dict:
        examples, sources = prepared
        config = recipe.training.for_examples(len(examples), world_size())
        data_hash = _examples_hash(examples)
        per = f" per process x {world_size()} processes" if world_size() > 1 else ""
        log(f"training {recipe.method} on {len(examples)} examples from {len(sources)} "
            f"source(s), {config.steps} steps of {config.batch_size}{per} ...")  # fmt: skip
        every = recipe.eval and recipe.eval.every
        info = train_causal_lm(
            model, tokenizer, examples, config, out, progress=progress,
            callbacks=[_EvalEvery(recipe, out, tokenizer, log)] if every else [],
            inputs={"base": model_identity(recipe.base), "examples": data_hash}, log=log,
        )  # fmt: skip
        return {"training": info, "sources": [s.__dict__ for s in sources],
                "examples": len(examples), "examples_hash": data_hash}  # fmt: skip

    job = Job(kind="trained-model", schema="polyglot.train/1", verb="trained",
              inputs=_inputs(recipe), scratch=SCRATCH, build_data=build_data, prepare=prepare,
              fit=fit, cleanup=lambda out: shutil.rmtree(out / "_evals", ignore_errors=True))  # fmt: skip
    return run_recipe(recipe, job, overwrite=overwrite, progress=progress, log=log)


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
