"""``train_causal_lm``: causal-LM training on texts with transformers' Trainer, resumable.

Checkpoints (weights, optimizer, scheduler, RNG state) go to ``out/_checkpoints`` every
``config.checkpoint_every()`` steps, with a note of the config, a hash of the packed data and a
hash of the starting weights. Calling again with the same config, data and starting model after
a kill resumes from the latest complete checkpoint; with anything changed, the stale
checkpoints are dropped (and the log says so) and training starts over. When
training finishes, the model, its tokenizer and a card saying what made it are saved to ``out``
and the checkpoints are removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.files import read_json, write_json, write_lines
from polyglot.models import quiet_transformers
from polyglot.progress import training_callback
from polyglot.provenance import make_card, write_card
from polyglot.train.config import TrainingConfig
from polyglot.train.packing import (
    DocumentCollator,
    PaddingCollator,
    encode_examples,
    pack_labelled,
    pack_sequences,
)

CHECKPOINTS = "_checkpoints"
CURVE = "curve.jsonl"
_RESUME = "resume.json"


def blocks_hash(blocks: list[list[int]]) -> str:
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(json.dumps(block).encode())
    return digest.hexdigest()[:16]


def weights_hash(model) -> str:
    """sha256 over every parameter and buffer: the identity of the weights training starts from."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


def _resume_point(folder: Path, note: dict, log) -> str | None:
    """The latest complete checkpoint of this very training (same config, data and starting
    weights) in ``folder``, or None; anything else there is removed."""
    if not folder.is_dir():
        return None
    try:
        same = read_json(folder / _RESUME) == note
    except ConfigError:
        same = False  # a damaged note: the checkpoints cannot be trusted
    # Trainer writes trainer_state.json last: a checkpoint without it was cut off by a kill
    complete = sorted(
        (p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").is_file()),
        key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1,
    )
    if same and complete:
        for partial in set(folder.glob("checkpoint-*")) - set(complete):
            shutil.rmtree(partial, ignore_errors=True)
        return str(complete[-1])
    if any(folder.glob("checkpoint-*")):
        log(f"{folder}: checkpoints of another config, data or starting model; starting over")
    shutil.rmtree(folder, ignore_errors=True)
    return None


def training_blocks(tokenizer, texts: list, config: TrainingConfig) -> tuple[list[dict], int]:
    """The training rows for ``texts`` (plain strings: loss on every token; (prompt, response)
    pairs: loss on the response only), packed as ``config.packing`` says; and how many examples
    were cut at ``max_length`` (packing "none" only)."""
    if config.packing == "stream":
        if any(not isinstance(t, str) for t in texts):
            raise ConfigError(
                "packing 'stream' trains on every token; use 'documents' or 'none' for "
                "prompt/response examples"
            )
        blocks = pack_sequences(tokenizer, texts, config.max_length, config.seed)
        return [{"input_ids": b} for b in blocks], 0
    pairs = [("", t) if isinstance(t, str) else tuple(t) for t in texts]
    encoded, cut = encode_examples(tokenizer, pairs, config.max_length)
    if not any(label != -100 for row in encoded for label in row["labels"][1:]):
        raise ConfigError(
            f"nothing to train on: every response lies beyond max_length {config.max_length} "
            f"({cut} of {len(encoded)} examples cut); raise training.max_length"
        )
    if config.packing == "documents":
        if tokenizer.bos_token_id is None:
            raise ConfigError(
                "packing 'documents' finds each example by its BOS token, and this tokenizer "
                "has none; use packing 'none'"
            )
        return pack_labelled(encoded, config.max_length, config.seed), cut
    return encoded, cut


def train_causal_lm(
    model,
    tokenizer,
    texts: list,
    config: TrainingConfig,
    out: str | Path,
    *,
    progress: bool = True,
    callbacks: list | None = None,
    inputs: dict | None = None,
    log=print,
) -> dict:
    """Train ``model`` on ``texts`` and save it (or its LoRA adapter) to ``out``.

    ``texts``: plain strings (next-token loss on every token) or (prompt, response) pairs
    (loss on the response only), see ``training_blocks``.

    ``inputs``: the identity of what the training started from (base model fingerprint, data
    hash, ...), recorded in the card of ``out``. Returns a summary: steps, seconds, first and
    final logged loss, and whether the run resumed from a checkpoint.
    """
    from transformers import DataCollatorForLanguageModeling

    if config.packing == "stream":
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    elif config.packing == "documents":
        collator = DocumentCollator(tokenizer.bos_token_id, tokenizer.pad_token_id)
    else:
        collator = PaddingCollator(tokenizer.pad_token_id)
    rows, cut = training_blocks(tokenizer, texts, config)
    if not rows:
        raise ConfigError("no training examples")
    columns = {"input_ids": [r["input_ids"] for r in rows]}
    if "labels" in rows[0]:
        columns["labels"] = [r["labels"] for r in rows]
    return run_training(
        model, tokenizer, columns, collator, config, out, progress=progress,
        callbacks=callbacks, inputs=inputs, log=log, extra_summary={"examples_cut": cut},
    )  # fmt: skip


def run_training(
    model,
    tokenizer,
    columns: dict[str, list],
    collator,
    config: TrainingConfig,
    out: str | Path,
    *,
    trainer_class=None,
    trainer_kwargs: dict | None = None,
    progress: bool = True,
    callbacks: list | None = None,
    inputs: dict | None = None,
    log=print,
    curve_keys: tuple[str, ...] = (),
    extra_summary: dict | None = None,
) -> dict:
    """The training loop every polyglot trainer shares: transformers' ``Trainer`` (or
    ``trainer_class``, built with ``trainer_kwargs`` too) over the dataset ``columns`` batched by
    ``collator``; checkpoints that resume only the same training (config, data, starting
    weights, ``inputs``); the model, tokenizer, ``curve.jsonl`` (loss, and the logged
    ``curve_keys``, per step) and the card saved to ``out``; the checkpoints removed."""
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    out = Path(out)
    dataset = Dataset.from_dict(columns)
    checkpoints = out / CHECKPOINTS
    note = {
        "config": config.model_dump(),
        "blocks": blocks_hash([row for column in columns.values() for row in column]),
        "start_weights": weights_hash(model),
        "inputs": inputs or {},
    }
    note = json.loads(json.dumps(note))  # as it reads back from JSON
    resume = _resume_point(checkpoints, note, log)
    checkpoints.mkdir(parents=True, exist_ok=True)
    write_json(checkpoints / _RESUME, note)
    args = TrainingArguments(
        output_dir=str(checkpoints),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=int(config.warmup_ratio * config.steps),
        lr_scheduler_type=config.lr_scheduler,
        weight_decay=config.weight_decay,
        logging_steps=config.log_every(),
        save_strategy="steps",
        save_steps=config.checkpoint_every(),
        save_total_limit=1,
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        disable_tqdm=True,  # polyglot's own bar (polyglot.progress), or none
        dataloader_num_workers=0,
        remove_unused_columns=False,  # a custom trainer reads its own columns
        # every trained weight (LoRA or full) takes part in each step: DDP need not look for
        # unused ones (an extra pass over the graph each step)
        ddp_find_unused_parameters=False,
    )
    bar = training_callback(config.steps, progress)
    trainer = (trainer_class or Trainer)(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        callbacks=[bar, *(callbacks or [])],
        **(trainer_kwargs or {}),
    )
    trainer.remove_callback(PrinterCallback)  # raw log dictionaries: to the log file instead
    # (Trainer sets config.use_cache = False; with a cache, transformers would not build the
    # per-document mask from the position ids)
    started = time.perf_counter()
    try:
        with quiet_transformers():  # checkpoint saves print a bar each; training has its own
            output = trainer.train(resume_from_checkpoint=resume)
            seconds = time.perf_counter() - started
            trainer.save_model(str(out))
    finally:
        bar.stop()  # a kill or an error leaves the terminal as it found it
    # weights, config and tokenizer only: training_args.bin is a pickle, and the card says how
    # the model was trained
    (out / "training_args.bin").unlink(missing_ok=True)
    tokenizer.save_pretrained(out)
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    # the training curve (a resumed run's history includes the steps before the kill)
    write_lines(
        out / CURVE,
        [
            json.dumps(
                {
                    "step": log["step"],
                    "loss": log["loss"],
                    "learning_rate": log.get("learning_rate"),
                    "grad_norm": log.get("grad_norm"),
                    **{key: log[key] for key in curve_keys if key in log},
                }
            )
            for log in trainer.state.log_history
            if "loss" in log
        ],
    )
    # after a resume, Trainer's mean loss and our clock cover this session's steps only
    session = "_this_session" if resume else ""
    summary = {
        "steps": config.steps,
        f"seconds{session}": round(seconds, 1),
        "first_loss": round(losses[0], 4) if losses else None,
        "final_loss": round(losses[-1], 4) if losses else None,
        f"train_loss{session}": round(output.training_loss, 4),
        "sequences": len(dataset),
        "processes": args.world_size,
        # how the processes shared the model: NO (one), MULTI_GPU (DDP), FSDP, DEEPSPEED
        "distributed": str(getattr(trainer.accelerator.distributed_type, "value", "NO")),
        **(extra_summary or {}),
        "resumed_from_step": int(resume.rsplit("-", 1)[-1]) if resume else None,
    }
    card_inputs = {
        **(inputs or {}),
        "training_blocks": note["blocks"],
        "start_weights": note["start_weights"],
    }
    write_card(out, make_card("trained-model", note["config"], card_inputs, training=summary))
    shutil.rmtree(checkpoints, ignore_errors=True)
    return summary
