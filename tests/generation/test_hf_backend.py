"""The hf backend on a tiny local model: batching, stop strings, sampling, adapters, errors."""

from __future__ import annotations

import pytest

from polyglot.config import ConfigError
from polyglot.generation import GenerationSettings, Request, load_backend
from polyglot.generation.base import cut_at_stop


def test_cut_at_stop_takes_the_earliest():
    assert cut_at_stop("a b\n\nQuestion: c", ["\nQuestion:", "\n\n"]) == "a b"
    assert cut_at_stop("no stop here", ["\n\n"]) == "no stop here"


@pytest.fixture(scope="module")
def backend(tiny_model):
    return load_backend(GenerationSettings(model=str(tiny_model), max_new_tokens=12, batch_size=3))


def _requests(n: int) -> list[Request]:
    return [Request(f"k{i}", "Question: " + "many words " * i, ["\n\n"]) for i in range(n)]


def test_batches_respect_size_and_token_budget(tiny_model):
    settings = GenerationSettings(
        model=str(tiny_model), max_new_tokens=10, batch_size=4, batch_tokens=200
    )
    backend = load_backend(settings)
    requests = _requests(9)
    batches = backend.batches(requests)
    assert sorted(r.key for b in batches for r in b) == sorted(r.key for r in requests)
    for batch in batches:
        widest = max(len(backend._encode(r.prompt)) for r in batch)
        assert len(batch) <= 4
        assert len(batch) == 1 or len(batch) * (widest + 10) <= 200
    assert backend.batches(list(reversed(requests))) == batches  # order-independent


def test_batched_greedy_equals_one_by_one(backend):
    """Left padding must not change greedy outputs."""
    requests = _requests(5)
    batched = {
        g.key: g.outputs
        for b in backend.generate(list(enumerate(backend.batches(requests))))
        for g in b
    }
    single = {
        g.key: g.outputs for i, r in enumerate(requests) for g in next(backend.generate([(i, [r])]))
    }
    assert batched == single
    assert all(len(o) == 1 for o in batched.values())


def test_decoding_equals_transformers_generate(backend):
    """The shrinking-batch loop computes what ``model.generate`` computes (greedy, no stops)."""
    import torch

    requests = _requests(4)
    ours = {g.key: g.outputs[0] for g in next(backend.generate([(0, requests)]))}
    tok = backend.tokenizer
    for r in requests:
        ids = torch.tensor([backend._encode(r.prompt)])
        out = backend.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
        expected = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        assert ours[r.key] == cut_at_stop(expected, r.stop)


def test_rows_leave_the_batch_when_done_without_changing_the_others(backend):
    # One row stops after its first characters; the rows beside it decode on unchanged.
    requests = _requests(3)
    free = {g.key: g.outputs[0] for g in next(backend.generate([(0, requests)]))}
    early = Request("k1", requests[1].prompt, [free["k1"][1:3]])
    mixed = {g.key: g for g in next(backend.generate([(0, [requests[0], early, requests[2]])]))}
    assert mixed["k1"].new_tokens[0] < 12
    assert mixed["k0"].outputs[0] == free["k0"] and mixed["k2"].outputs[0] == free["k2"]


def test_tiny_top_p_keeps_only_the_greedy_token(tiny_model, backend):
    settings = GenerationSettings(
        model=str(tiny_model), max_new_tokens=12, temperature=1.0, top_p=1e-6, seed=3
    )
    sampled = load_backend(settings)
    requests = _requests(3)
    greedy = [g.outputs for g in next(backend.generate([(0, requests)]))]
    assert [g.outputs for g in next(sampled.generate([(0, requests)]))] == greedy


def test_every_sequence_stops_at_its_own_stop_string(backend):
    # A stop string made of the first characters the model produces for this prompt.
    request = Request("a", "Question: many words", [])
    free = next(backend.generate([(0, [request])]))[0].outputs[0]
    assert len(free) > 2
    stop = free[1:3]
    stopped = next(
        backend.generate(
            [(0, [Request("a", request.prompt, [stop]), Request("b", "Question:", [])])]
        )
    )
    assert stopped[0].outputs[0] == free[: free.index(stop)]
    assert stopped[0].new_tokens[0] < 12


def test_sampling_returns_n_samples_deterministically(tiny_model):
    settings = GenerationSettings(
        model=str(tiny_model), max_new_tokens=8, temperature=1.0, samples=3, seed=7
    )
    backend = load_backend(settings)
    batch = [(0, _requests(2))]
    first = [g.outputs for g in next(backend.generate(batch))]
    again = [g.outputs for g in next(backend.generate(batch))]
    assert all(len(o) == 3 for o in first)
    assert first == again
    assert len({o for outs in first for o in outs}) > 1  # the samples differ


def test_samples_need_temperature(tiny_model):
    with pytest.raises(ConfigError, match="temperature"):
        load_backend(GenerationSettings(model=str(tiny_model), samples=4))


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no model at"):
        load_backend(GenerationSettings(model=str(tmp_path / "nope" / "model")))


def test_lora_adapter_loads_and_a_foreign_adapter_is_refused(tiny_model, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    # init_lora_weights=False: B is random, not zero, so an ignored adapter cannot pass
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    lora = get_peft_model(base, config)
    lora.save_pretrained(tmp_path / "adapter")
    plain = load_backend(GenerationSettings(model=str(tiny_model), max_new_tokens=4))
    backend = load_backend(
        GenerationSettings(
            model=str(tiny_model), adapter=str(tmp_path / "adapter"), max_new_tokens=4
        )
    )
    assert backend.describe()["adapter_fingerprint"]
    ids = plain.tokenizer("Question: Tom has 3 apples.", return_tensors="pt").input_ids
    with torch.inference_mode():
        without = plain.model(ids).logits
        merged = backend.model(ids).logits
        expected = lora.eval()(ids).logits  # the adapter applied, unmerged
    assert not torch.allclose(without, merged, atol=1e-4)  # the adapter changes the outputs
    assert torch.allclose(merged, expected, atol=1e-4)  # ... exactly as PEFT applies it

    other = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=100,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
        )
    )
    get_peft_model(other, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(
        tmp_path / "foreign"
    )
    with pytest.raises(ConfigError, match="does not fit model"):
        load_backend(GenerationSettings(model=str(tiny_model), adapter=str(tmp_path / "foreign")))
    with pytest.raises(ConfigError, match="no PEFT adapter"):
        load_backend(GenerationSettings(model=str(tiny_model), adapter=str(tmp_path)))


def test_vllm_backend_without_vllm_says_how_to_install(tiny_model):
    try:
        import vllm  # noqa: F401

        pytest.skip("vllm is installed; this checks the message when it is not")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match=r"polyglot-reasoning\[vllm\]"):
        load_backend(GenerationSettings(model=str(tiny_model), backend="vllm"))


def test_vllm_backend_agrees_with_hf_on_a_gpu(tiny_model, backend):
    """Runs only where vLLM and a CUDA GPU are present (the `vllm` extra on a GPU machine)."""
    import importlib.util

    import torch

    if importlib.util.find_spec("vllm") is None or not torch.cuda.is_available():
        pytest.skip("needs vLLM and a CUDA GPU")
    vllm_backend = load_backend(
        GenerationSettings(model=str(tiny_model), backend="vllm", max_new_tokens=12)
    )
    requests = _requests(6)
    ours = {g.key: g.outputs[0] for g in next(backend.generate([(0, requests)]))}
    theirs = {
        g.key: g.outputs[0]
        for b in vllm_backend.generate(list(enumerate(vllm_backend.batches(requests))))
        for g in b
    }
    assert theirs.keys() == ours.keys()
    # float32 on the CPU against the GPU's kernels: greedy paths may part at a near-tie
    assert sum(theirs[k] == ours[k] for k in ours) >= len(ours) // 2


def test_stop_strings_wait_for_the_end_of_a_thinking_block(tiny_model):
    """Decoding token by token: a blank line inside the block is thinking; after it, a stop."""
    from polyglot.generation.hf_backend import _StopStrings
    from polyglot.models import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model))
    request = Request("k", "p", ["\n\n"], ("<think>", "</think>"), opened=True)
    stops = _StopStrings(tokenizer, [request])
    text = "step one\n\nstep two</think>\n\nThe answer is 16.\n\nQuestion"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    first_hit = next((n for n in range(1, len(ids) + 1) if stops.hits([0], [ids[:n]])[0]), None)
    assert first_hit is not None
    decoded = tokenizer.decode(ids[:first_hit])
    assert "The answer is 16." in decoded and decoded.count("\n\n") == 3  # the third stops
