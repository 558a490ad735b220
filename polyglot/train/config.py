"""The typed configuration of one training run (every knob of ``train_causal_lm``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from polyglot.config import StrictModel


class TrainingConfig(StrictModel):
    steps: int = Field(1000, ge=1)
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(3e-4, gt=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    max_length: int = Field(256, ge=8)  # block length in tokens
    # "stream": texts joined and cut every max_length tokens (pretraining); "documents": whole
    # texts packed best-fit, each attending only to itself (fine-tuning: no example is cut);
    # "none": one example per row, padded (fine-tuning default; an example longer than
    # max_length is cut at the end and counted)
    packing: Literal["stream", "documents", "none"] = "stream"
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    seed: int = 0
    # a loss entry every N steps (the training curve); None: every hundredth of the run
    logging_steps: int | None = Field(None, ge=1)
    # a checkpoint (weights, optimizer, scheduler, RNG) every N steps, so a killed run resumes;
    # None: every tenth of the run. Only the latest is kept.
    save_steps: int | None = Field(None, ge=1)

    def checkpoint_every(self) -> int:
        return self.save_steps or max(1, self.steps // 10)

    def log_every(self) -> int:
        return self.logging_steps or max(1, self.steps // 100)
