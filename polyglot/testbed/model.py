"""Tiny ``LlamaForCausalLM`` models built from a config, so every path runs on a laptop CPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyglot.models import quiet_transformers
from polyglot.packs import all_packs
from polyglot.testbed.tokenizer import train_tokenizer


@dataclass(frozen=True)
class TinyModelSpec:
    layers: int = 6
    hidden: int = 128
    intermediate: int = 352
    heads: int = 4
    kv_heads: int = 2
    max_positions: int = 1024


def build_tiny_model(tokenizer, spec: TinyModelSpec = TinyModelSpec(), *, seed: int = 0):
    """A freshly initialised Llama with the tokenizer's vocabulary and special tokens."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save_checkpoint(model, tokenizer, out_dir: str | Path) -> Path:
    """An ordinary HF checkpoint directory (safetensors + config + tokenizer)."""

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def pack_texts() -> list[str]:
    """Every pack's prompt strings, answer cues and lexicon: text in all 20 languages."""

    texts: list[str] = []
    for pack in all_packs().values():
        texts += [*pack.prompts.model_dump().values(), *pack.answer_cues]
        texts += [f"{en} {native}" for en, native in pack.lexicon.items()]
    return texts


def random_checkpoint(out_dir: str | Path, spec: TinyModelSpec, *, vocab_size: int = 1200) -> Path:
    """An untrained tiny Llama with a tokenizer trained on the packs' text, saved to
    ``out_dir/model`` (a fixture for tests and benchmarks: real code paths, no download)."""

    root = Path(out_dir)
    tokenizer = train_tokenizer(pack_texts(), root / "tokenizer", vocab_size=vocab_size)
    return save_checkpoint(build_tiny_model(tokenizer, spec), tokenizer, root / "model")
