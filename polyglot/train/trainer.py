"""``train_causal_lm``: causal-LM training on texts with transformers' Trainer, resumable.

Checkpoints (weights, optimizer, scheduler, RNG state) go to ``out/_checkpoints`` every
``config.checkpoint_every()`` steps, with a note of the config and a hash of the packed data.
Calling again with the same config and data after a kill resumes from the latest checkpoint;
with anything changed, the stale checkpoints are dropped and training starts over. When
training finishes, the model, its tokenizer and a card saying what made it are saved to ``out``
and the checkpoints are removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from polyglot.files import read_json, write_json
from polyglot.provenance import make_card, write_card
from polyglot.train.config import TrainingConfig
from polyglot.train.packing import DocumentCollator, pack_documents, pack_sequences

CHECKPOINTS = "_checkpoints"
_RESUME = "resume.json"


def blocks_hash(blocks: list[list[int]]) -> str:
    digest = hashlib.sha256()
    for block in blocks:
        digest.update(json.dumps(block).encode())
    return digest.hexdigest()[:16]


def _resume_point(folder: Path, note: dict) -> bool:
    """Whether ``folder`` holds checkpoints of this very training (same config and data)."""
    if not folder.is_dir():
        return False
    try:
        same = read_json(folder / _RESUME) == note
    except Exception:  # noqa: BLE001 - a damaged note means the checkpoints cannot be trusted
        same = False
    if same and any(folder.glob("checkpoint-*")):
        return True
    shutil.rmtree(folder, ignore_errors=True)
    return False


def train_causal_lm(
    model,
    tokenizer,
    texts: list[str],
    config: TrainingConfig,
    out: str | Path,
    *,
    progress: bool = True,
    callbacks: list | None = None,
    inputs: dict | None = None,
) -> dict:
    """Train ``model`` on ``texts`` (next-token loss on every token) and save it to ``out``.

    ``inputs``: the identity of what the training started from (base model fingerprint, data
    hash, ...), recorded in the card of ``out``. Returns a summary: steps, seconds, first and
    final logged loss, and whether the run resumed from a checkpoint.
    """
    import torch
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    out = Path(out)
    if config.packing == "stream":
        pack, collator = pack_sequences, DataCollatorForLanguageModeling(tokenizer, mlm=False)
    else:
        pack, collator = (
            pack_documents,
            DocumentCollator(tokenizer.bos_token_id, tokenizer.pad_token_id),
        )
    blocks = pack(tokenizer, texts, config.max_length, config.seed)
    dataset = Dataset.from_dict({"input_ids": blocks})
    checkpoints = out / CHECKPOINTS
    note = {"config": config.model_dump(), "blocks": blocks_hash(blocks), "inputs": inputs or {}}
    note = json.loads(json.dumps(note))  # as it reads back from JSON
    resume = _resume_point(checkpoints, note)
    checkpoints.mkdir(parents=True, exist_ok=True)
    write_json(checkpoints / _RESUME, note)
    args = TrainingArguments(
        output_dir=str(checkpoints),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=max(1, int(config.warmup_ratio * config.steps)),
        lr_scheduler_type="cosine",
        weight_decay=config.weight_decay,
        logging_steps=max(1, config.steps // 10),
        save_strategy="steps",
        save_steps=config.checkpoint_every(),
        save_total_limit=1,
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        disable_tqdm=not progress,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        callbacks=callbacks,
    )
    # (Trainer sets config.use_cache = False; with a cache, transformers would not build the
    # per-document mask from the position ids)
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - started
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    summary = {
        "steps": config.steps,
        "seconds": round(seconds, 1),
        "first_loss": round(losses[0], 4) if losses else None,
        "final_loss": round(losses[-1], 4) if losses else None,
        "train_loss": round(output.training_loss, 4),
        "sequences": len(dataset),
        "resumed": resume,
    }
    card_inputs = {**(inputs or {}), "training_blocks": note["blocks"]}
    write_card(out, make_card("trained-model", note["config"], card_inputs, training=summary))
    shutil.rmtree(checkpoints, ignore_errors=True)
    return summary
