"""``polyglot merge layer-swap`` on tiny sharded experts: which layer comes from which expert
(bit for bit), the transition arithmetic, a loadable model, and refusals."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.merge import layer_swap, swap_plan

from .test_analyze import _expert

runner = CliRunner()


@pytest.fixture(scope="module")
def experts(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("swap")
    math = _expert(tiny_model, root / "math", layers=[0, 1, 2, 3], scale=0.5, shard="100KB")
    language = _expert(
        tiny_model,
        root / "language",
        layers=[0, 1, 2, 3],
        scale=0.3,
        shard="100KB",
        embeddings=True,
    )
    return math, language


def _tensors(folder):
    found = {}
    for shard in sorted(folder.glob("*.safetensors")):
        found.update(load_file(shard))
    return found


def test_swap_plan():
    assert swap_plan(6, 2, 1) == [1, 1, 0, 0, 0, 1]
    assert swap_plan(6, 1, 1, transition=1) == [1, 0.5, 0, 0, 0.5, 1]
    assert swap_plan(8, 2, 1, transition=2) == pytest.approx(
        [1, 1, 2 / 3, 1 / 3, 0, 1 / 3, 2 / 3, 1]
    )
    with pytest.raises(ConfigError, match="more than the model's 4"):
        swap_plan(4, 3, 2)
    # a transition zone is counted beside each swapped block only
    assert swap_plan(6, 0, 3, transition=2) == pytest.approx([0, 1 / 3, 2 / 3, 1, 1, 1])


def test_a_pure_swap_takes_each_tensor_bit_for_bit(experts, tmp_path):
    math, language = experts
    result = runner.invoke(
        app,
        ["merge", "layer-swap", "--math-expert", str(math), "--language-expert", str(language),
         "--bottom", "1", "--top", "1", "--out", str(tmp_path / "m")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    merged, a, b = _tensors(tmp_path / "m"), _tensors(math), _tensors(language)
    assert set(merged) == set(a)
    for name, tensor in merged.items():
        outer = (
            ".layers.0." in name
            or ".layers.3." in name
            or "embed" in name
            or name == "model.norm.weight"
        )
        source = b if outer else a
        assert torch.equal(tensor, source[name]), name
    assert json.loads((tmp_path / "m" / "merge.json").read_text())["bottom"] == 1
    assert (tmp_path / "m" / "model.safetensors.index.json").is_file()  # same shard layout
    assert len(list((tmp_path / "m").glob("*.safetensors"))) == len(
        list(math.glob("*.safetensors"))
    )
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert torch.isfinite(model(torch.tensor([[1, 2, 3]])).logits).all()


def test_transition_layers_are_the_weighted_average(experts, tmp_path):
    math, language = experts
    layer_swap(math, language, tmp_path / "t", bottom=1, top=1, transition=1)
    merged, a, b = _tensors(tmp_path / "t"), _tensors(math), _tensors(language)
    name = "model.layers.1.mlp.down_proj.weight"
    expected = (0.5 * b[name].float() + 0.5 * a[name].float()).to(a[name].dtype)
    assert torch.equal(merged[name], expected)
    assert torch.equal(
        merged["model.layers.0.mlp.down_proj.weight"], b["model.layers.0.mlp.down_proj.weight"]
    )


def test_refusals(experts, tiny_model, tmp_path):
    math, language = experts
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ConfigError, match="not a merged model"):  # never replaced, not even
        layer_swap(math, language, tmp_path / "busy", bottom=1, top=1, overwrite=True)
    with pytest.raises(ConfigError, match="one of the models being merged"):
        layer_swap(math, language, math, bottom=1, top=1, overwrite=True)
    first = layer_swap(math, language, tmp_path / "done", bottom=1, top=1)
    assert "reused" not in first
    again = layer_swap(math, language, tmp_path / "done", bottom=1, top=1)
    assert again["reused"]  # the same merge of the same inputs: reused
    with pytest.raises(ConfigError, match="--overwrite"):
        layer_swap(math, language, tmp_path / "done", bottom=2, top=1)
    assert json.loads((tmp_path / "done" / "merge.json").read_text())["bottom"] == 1
    layer_swap(math, language, tmp_path / "done", bottom=2, top=1, overwrite=True)
    assert json.loads((tmp_path / "done" / "merge.json").read_text())["bottom"] == 2
    # the same merge is reused even with --overwrite, and whatever path names the same inputs
    assert layer_swap(math, language, tmp_path / "done", bottom=2, top=1, overwrite=True)["reused"]
    relative = os.path.relpath(math)
    assert layer_swap(relative, language, tmp_path / "done", bottom=2, top=1)["reused"]
    assert not (tmp_path / "done" / "mergekit.yaml").exists()
    layer_swap(math, language, tmp_path / "done", bottom=2, top=1, emit_mergekit=True)
    assert (tmp_path / "done" / "mergekit.yaml").is_file()  # written for the reused folder
    assert not any(p.name.startswith(".done.") for p in tmp_path.iterdir())
    with pytest.raises(ConfigError, match="more than the model's"):
        layer_swap(math, language, tmp_path / "o", bottom=3, top=2)
    with pytest.raises(ConfigError, match="same expert"):
        layer_swap(math, language, tmp_path / "o", bottom=1, top=1, lm_head="math")
    from transformers import AutoModelForCausalLM

    other = AutoModelForCausalLM.from_pretrained(tiny_model)
    other.config.num_hidden_layers = 3
    other.model.layers = other.model.layers[:3]
    other.save_pretrained(tmp_path / "three")
    with pytest.raises(ConfigError, match="num_hidden_layers"):
        layer_swap(math, tmp_path / "three", tmp_path / "o", bottom=1, top=1)
    assert not any(p.name.startswith(".o.tmp") for p in tmp_path.iterdir())


@pytest.mark.parametrize(
    ("bottom", "top", "transition", "side"),
    [(1, 1, 0, "language"), (1, 1, 1, "language"), (2, 0, 1, "language"), (1, 1, 0, "math")],
)
def test_native_equals_mergekit_for_the_emitted_recipe(
    experts, tmp_path, bottom, top, transition, side
):
    """The acceptance: the native output equals mergekit's for the emitted config, tensor for
    tensor, bit for bit (pure swaps, transition ramps, embeddings and head from either expert
    through zero-length slices)."""
    pytest.importorskip("mergekit")
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    math, language = experts
    native = tmp_path / "native"
    layer_swap(
        math, language, native, bottom=bottom, top=top, transition=transition,
        embeddings=side, lm_head=side, emit_mergekit=True,
    )  # fmt: skip
    config = yaml.safe_load((native / "mergekit.yaml").read_text())
    options = MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False)
    run_merge(MergeConfiguration.model_validate(config), str(tmp_path / "mk"), options)
    ours, theirs = _tensors(native), _tensors(tmp_path / "mk")
    assert set(ours) == set(theirs)
    for name, tensor in ours.items():
        assert torch.equal(tensor, theirs[name]), name


FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
    "gemma": ("GemmaConfig", "GemmaForCausalLM"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_decoder_family_swaps_and_analyzes(family, tmp_path):
    """Llama-, Qwen2/3-, Mistral- and Gemma-style checkpoints built locally from configs: the
    layer pattern comes from the checkpoint, the swap takes each layer from the right expert,
    mergekit agrees bit for bit, and the merged model loads."""
    import transformers

    from polyglot.merge import analyze

    config_class, model_class = (getattr(transformers, n) for n in FAMILIES[family])
    config = config_class(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=64,
        tie_word_embeddings=family == "gemma",  # Gemma ties its head (mergekit assumes it)
    )  # fmt: skip
    models = {}
    for i, name in enumerate(("base", "math", "language")):
        torch.manual_seed(i)
        model = model_class(config)
        model.save_pretrained(tmp_path / name, max_shard_size="40KB")
        models[name] = tmp_path / name
    result = analyze(models["base"], [models["math"], models["language"]], tmp_path / "a")
    assert result["layers"] == 4 and len(result["experts"][0]["per_layer"]) == 4
    assert all(v > 0 for v in result["experts"][0]["per_layer"])
    layer_swap(models["math"], models["language"], tmp_path / "m", bottom=1, top=1, transition=1,
               emit_mergekit=True)  # fmt: skip
    merged, b = _tensors(tmp_path / "m"), _tensors(models["language"])
    for name, tensor in merged.items():
        if ".layers.0." in name or ".layers.3." in name:
            assert torch.equal(tensor, b[name]), name
        elif ".layers." not in name and "embed" not in name:
            assert torch.equal(tensor, b[name]), name  # final norm and head: language
    assert model_class.from_pretrained(tmp_path / "m") is not None
    pytest.importorskip("mergekit")
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    recipe = yaml.safe_load((tmp_path / "m" / "mergekit.yaml").read_text())
    options = MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False)
    run_merge(MergeConfiguration.model_validate(recipe), str(tmp_path / "mk"), options)
    theirs = _tensors(tmp_path / "mk")
    tied = model_class.from_pretrained(tmp_path / "m").config.tie_word_embeddings
    extra = set(theirs) - set(merged)
    # a tied head: mergekit writes it out, the checkpoint (like ours) leaves it to the embeddings
    assert extra <= ({"lm_head.weight"} if tied else set()) and set(merged) <= set(theirs)
    for name in extra:
        assert torch.equal(theirs[name], merged["model.embed_tokens.weight"])
    for name, tensor in merged.items():
        assert torch.equal(tensor, theirs[name]), name


def test_the_mergekit_engine_gives_the_native_result(experts, tmp_path):
    pytest.importorskip("mergekit")
    math, language = experts
    result = runner.invoke(
        app,
        ["merge", "layer-swap", "--math-expert", str(math), "--language-expert", str(language),
         "--bottom", "1", "--top", "1", "--transition", "1", "--engine", "mergekit",
         "--out", str(tmp_path / "mk")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    layer_swap(math, language, tmp_path / "native", bottom=1, top=1, transition=1)
    ours, theirs = _tensors(tmp_path / "native"), _tensors(tmp_path / "mk")
    assert set(ours) <= set(theirs)
    for name, tensor in ours.items():
        assert torch.equal(tensor, theirs[name]), name
    assert json.loads((tmp_path / "mk" / "merge.json").read_text())["engine"] == "mergekit"
    assert (tmp_path / "mk" / "mergekit.yaml").is_file()
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(tmp_path / "mk") is not None
    wrong = runner.invoke(
        app,
        ["merge", "layer-swap", "--math-expert", str(math), "--language-expert", str(language),
         "--bottom", "1", "--top", "1", "--engine", "mergkit", "--out", str(tmp_path / "x")],
    )  # fmt: skip
    assert wrong.exit_code == 2 and "--engine" in wrong.output


def test_bad_checkpoints_are_named(experts, tmp_path):
    import shutil

    math, language = experts
    broken = tmp_path / "broken"
    shutil.copytree(language, broken)
    shard = sorted(broken.glob("*.safetensors"))[0]
    shard.unlink()
    with pytest.raises(ConfigError, match="missing"):
        layer_swap(math, broken, tmp_path / "o", bottom=1, top=1)
    shutil.rmtree(broken)
    shutil.copytree(language, broken)
    shard = sorted(broken.glob("*.safetensors"))[-1]
    shard.write_bytes(shard.read_bytes()[:200])  # cut short
    with pytest.raises(ConfigError, match="damaged"):
        layer_swap(math, broken, tmp_path / "o", bottom=1, top=1)
    assert not (tmp_path / "o").exists()
    assert not any(p.name.startswith(".o.tmp") for p in tmp_path.iterdir())
    with pytest.raises(ConfigError, match="not a model folder"):
        layer_swap(math, tmp_path / "nowhere", tmp_path / "o", bottom=1, top=1)
    from transformers import AutoModelForCausalLM

    half = AutoModelForCausalLM.from_pretrained(language, dtype=torch.bfloat16)
    half.save_pretrained(tmp_path / "bf16")
    with pytest.raises(ConfigError, match="dtype"):
        layer_swap(math, tmp_path / "bf16", tmp_path / "o", bottom=1, top=1)


def test_the_copy_falls_back_when_the_kernel_cannot_copy(experts, tmp_path, monkeypatch):
    """Without ``os.copy_file_range`` (another OS, or a copy across filesystems), the same bytes
    are written by the chunked copy."""
    math, language = experts
    layer_swap(math, language, tmp_path / "kernel", bottom=1, top=1)

    def refuse(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    layer_swap(math, language, tmp_path / "chunked", bottom=1, top=1)
    for shard in sorted((tmp_path / "kernel").glob("*.safetensors")):
        assert shard.read_bytes() == (tmp_path / "chunked" / shard.name).read_bytes()


def test_an_interrupted_merge_leaves_no_model_folder(experts, tmp_path, monkeypatch):
    import importlib

    layer_swap_module = importlib.import_module("polyglot.merge.layer_swap")

    math, language = experts
    calls = []

    def dies(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = layer_swap_module.write_streamed
    monkeypatch.setattr(layer_swap_module, "write_streamed", dies)
    with pytest.raises(KeyboardInterrupt):
        layer_swap(math, language, tmp_path / "m", bottom=1, top=1)
    assert not (tmp_path / "m").exists() and list(tmp_path.iterdir()) == []


def test_transition_weights_are_configurable(experts, tmp_path):
    assert swap_plan(8, 1, 1, transition=2, ramp=[0.75, 0.25]) == [
        1,
        0.75,
        0.25,
        0,
        0,
        0.25,
        0.75,
        1,
    ]
    with pytest.raises(ConfigError, match="one weight in \\[0, 1\\] per transition layer"):
        swap_plan(8, 1, 1, transition=2, ramp=[0.5])
    math, language = experts
    result = runner.invoke(
        app,
        ["merge", "layer-swap", "--math-expert", str(math), "--language-expert", str(language),
         "--bottom", "1", "--top", "0", "--transition", "1", "--ramp", "0.25",
         "--emit-mergekit", "--out", str(tmp_path / "r")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    merged, a, b = _tensors(tmp_path / "r"), _tensors(math), _tensors(language)
    name = "model.layers.1.mlp.down_proj.weight"
    expected = (0.25 * b[name].float() + 0.75 * a[name].float()).to(a[name].dtype)
    # the weighted average up to float32 rounding (mergekit's order of operations, below)
    assert torch.allclose(merged[name], expected, rtol=1e-6, atol=1e-7)
    recipe = json.loads((tmp_path / "r" / "merge.json").read_text())
    assert recipe["ramp"] == [0.25] and recipe["language_weight_per_layer"][1] == 0.25
    pytest.importorskip("mergekit")
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    config = yaml.safe_load((tmp_path / "r" / "mergekit.yaml").read_text())
    options = MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False)
    run_merge(MergeConfiguration.model_validate(config), str(tmp_path / "mk"), options)
    theirs = _tensors(tmp_path / "mk")
    for name, tensor in merged.items():
        assert torch.equal(tensor, theirs[name]), name
    bad = runner.invoke(
        app,
        ["merge", "layer-swap", "--math-expert", str(math), "--language-expert", str(language),
         "--bottom", "1", "--top", "0", "--transition", "1", "--ramp", "x",
         "--out", str(tmp_path / "x")],
    )  # fmt: skip
    assert bad.exit_code == 2 and "--ramp" in bad.output
