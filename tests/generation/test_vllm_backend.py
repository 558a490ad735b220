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
