"""A sentencepiece tokenizer trained on text the project makes, saved in Hugging Face format.

The real sentencepiece trainer (BPE with byte fallback, digits split one per token, newline a
piece of its own) writes a ``tokenizer.model``; transformers' converter turns it into an
ordinary ``LlamaTokenizer`` directory that ``AutoTokenizer.from_pretrained`` loads.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path

# Fixed ids so every testbed tokenizer agrees on the special tokens.
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"


def train_tokenizer(texts: Iterable[str], out_dir: str | Path, *, vocab_size: int = 2000):
    """Train a BPE sentencepiece model on ``texts`` and save it as an HF tokenizer in ``out_dir``."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = [line for text in texts for line in text.split("\n") if line.strip()]
    if not lines:
        raise ValueError("train_tokenizer: no text to train on")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        split_digits=True,
        user_defined_symbols=["\n"],
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        pad_id=0,
        unk_id=1,
        bos_id=2,
        eos_id=3,
        minloglevel=2,
        hard_vocab_limit=False,
        num_threads=1,  # deterministic
    )
    (out / "tokenizer.model").write_bytes(model.getvalue())
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "LlamaTokenizer",
                "bos_token": BOS,
                "eos_token": EOS,
                "unk_token": UNK,
                "pad_token": PAD,
                "add_bos_token": True,
                "add_eos_token": False,
                "model_max_length": 4096,
            },
            indent=2,
        )
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(out)  # converts tokenizer.model
    except (ImportError, ValueError) as err:
        raise RuntimeError(
            f"could not convert the sentencepiece model to a Hugging Face tokenizer: {err} "
            "(the conversion needs the 'protobuf' package)"
        ) from err
    tokenizer.save_pretrained(out)  # writes tokenizer.json: later loads need no conversion
    return tokenizer
