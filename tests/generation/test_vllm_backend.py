"""The vLLM backend's own pieces that need no engine (the engine itself: tests/real_vllm/)."""

from __future__ import annotations

from transformers import AutoTokenizer

from polyglot.generation.base import Request, cut_output, decode_keeping_tags
from polyglot.generation.vllm_backend import request_seed, tokens_through_stop


def test_a_thinking_requests_tokens_end_with_the_token_that_completes_its_stop(tiny_model):
    """A thinking request runs on past its stop in vLLM; its token count is what the hf backend
    would have generated: through the token that completes the stop string."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    request = Request("k", "p", ["\n\nQuestion:", "\n\n"], ("<think>", "</think>"))
    ids = tokenizer("<think>a\n\nb</think>\n\nThe answer is 16.\n\nQuestion: more text",
                    add_special_tokens=False).input_ids  # fmt: skip
    decode = lambda n: decode_keeping_tags(tokenizer, [ids[:n]], request.thinking)[0]  # noqa: E731
    kept = cut_output(decode(len(ids)), request)
    assert kept.endswith("The answer is 16.")
    count = tokens_through_stop(tokenizer, ids, kept, request)
    assert decode(count).startswith(kept + "\n\n")
    assert not decode(count - 1)[len(kept) :].startswith("\n\n")
    # nothing cut: every token counts
    plain = Request("k", "p", ["Question:"], ("<think>", "</think>"))
    assert tokens_through_stop(tokenizer, ids[:5], decode(5), plain) == 5


def test_sampled_requests_are_seeded_by_key_and_run_seed():
    assert request_seed(0, "sw/1") == request_seed(0, "sw/1")
    assert len({request_seed(0, "sw/1"), request_seed(1, "sw/1"), request_seed(0, "sw/2")}) == 3
    assert 0 <= request_seed(10**9, "x") < 2**31


def test_a_cpu_engines_kv_cache_is_sized_for_the_run(monkeypatch):
    """64 sequences of the whole context, at most a quarter of the memory free now; a model
    whose one sequence does not fit in that quarter is refused with what to pass."""
    import psutil
    import pytest

    from polyglot.config import ConfigError
    from polyglot.generation.vllm_backend import cpu_cache_bytes

    config = {"num_hidden_layers": 6, "num_key_value_heads": 2, "head_dim": 32}
    per_token = 2 * 6 * 2 * 32 * 4  # K and V, layers, heads, head size, float32
    free = type("Memory", (), {"available": 64 * 2**30})()
    monkeypatch.setattr(psutil, "virtual_memory", lambda: free)
    assert cpu_cache_bytes(config, 4, 1024) == per_token * 1024 * 64
    free.available = 2**30  # a busy machine: capped at a quarter of what is free
    assert cpu_cache_bytes(config, 4, 32768) == 2**30 // 4
    with pytest.raises(ConfigError, match="--max-model-len"):
        cpu_cache_bytes(config, 4, 2**20)
