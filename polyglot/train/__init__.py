"""Training: causal-LM fine-tuning on texts with transformers' Trainer, the packers and
collators that build its batches, and the typed training config. The testbed's base model,
``polyglot train``, distillation and language experts all train through here."""

from polyglot.train.config import TrainingConfig
from polyglot.train.packing import DocumentCollator, pack_documents, pack_sequences
from polyglot.train.trainer import train_causal_lm

__all__ = [
    "DocumentCollator",
    "TrainingConfig",
    "pack_documents",
    "pack_sequences",
    "train_causal_lm",
]
