"""``polyglot merge analyze`` on tiny checkpoints whose changes are known: the relative change
per tensor, the grouping by layer and module, the suggested swap, sharded checkpoints, errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.merge import analyze, suggest_swap
from polyglot.merge.analyze import Checkpoint, relative_changes

runner = CliRunner()


def _expert(base, out, layers, scale, shard=None, embeddings=False):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.named_parameters():
            hit = any(f".layers.{i}." in name for i in layers) or (
                embeddings and "embed_tokens" in name
            )
            if hit:
                tensor.add_(scale * tensor.abs().mean() * torch.randn_like(tensor))
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(out, **kwargs)
    return out


@pytest.fixture(scope="module")
def experts(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("experts")
    math = _expert(tiny_model, root / "math", layers=[1, 2], scale=0.5, shard="100KB")
    language = _expert(tiny_model, root / "language", layers=[0, 3], scale=0.5, embeddings=True)
    return tiny_model, math, language


def test_relative_change_is_exact_and_zero_where_nothing_moved(experts):
    base, math, _ = experts
    assert (math / "model.safetensors.index.json").is_file()  # several shards
    changes = relative_changes(Checkpoint.open(base), Checkpoint.open(math))
    from transformers import AutoModelForCausalLM

    before = AutoModelForCausalLM.from_pretrained(base).state_dict()
    after = AutoModelForCausalLM.from_pretrained(math).state_dict()
    name = "model.layers.1.self_attn.q_proj.weight"
    expected = ((after[name] - before[name]).norm() / before[name].norm()).item()
    assert changes[name] == pytest.approx(expected, rel=1e-6)
    assert changes["model.layers.0.mlp.up_proj.weight"] == 0.0


def test_the_cli_writes_heatmaps_and_suggests_the_outer_layers(experts, tmp_path):
    base, math, language = experts
    result = runner.invoke(
        app,
        ["merge", "analyze", "--base", str(base), "--expert", str(math), "--expert",
         str(language), "--out", str(tmp_path / "a")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "--bottom 1 --top 1" in result.output
    analysis = json.loads((tmp_path / "a" / "analysis.json").read_text())
    assert analysis["layers"] == 4 and "self_attn.q_proj" in analysis["modules"]
    math_profile = analysis["experts"][0]["per_layer"]
    assert math_profile[0] == 0 and math_profile[1] > 0 and math_profile[3] == 0
    assert analysis["experts"][1]["other"]["model.embed_tokens"] > 0
    html = (tmp_path / "a" / "analysis.html").read_text()
    assert html.count("<svg") == 3 and "language expert minus math expert" in html
    assert (tmp_path / "a" / "card.json").is_file()


def test_suggestion_rule():
    assert suggest_swap([0, 1, 1, 0.1], [1, 0, 0.1, 1])["bottom"] == 1
    assert suggest_swap([0, 1, 1, 0.1], [1, 0, 0.1, 1])["top"] == 1
    # the layer the math expert changed most is never language-dominant, so one stays its own
    outer = suggest_swap([0.1, 1, 0.1], [1, 1, 1])
    assert (outer["bottom"], outer["top"]) == (1, 1)
    assert outer["language_dominant"] == [True, False, True]
    assert suggest_swap([1, 1], [0, 0]) == {**suggest_swap([1, 1], [0, 0]), "bottom": 0, "top": 0}


def test_bad_checkpoints_are_named(experts, tmp_path):
    base, math, _ = experts
    broken = tmp_path / "broken"
    shutil.copytree(math, broken)
    shard = sorted(broken.glob("model-*.safetensors"))[0]
    shard.unlink()
    result = runner.invoke(
        app,
        [
            "merge",
            "analyze",
            "--base",
            str(base),
            "--expert",
            str(broken),
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 2 and shard.name in result.output and "missing" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(
        app,
        [
            "merge",
            "analyze",
            "--base",
            str(base),
            "--expert",
            str(empty),
            "--out",
            str(tmp_path / "y"),
        ],
    )
    assert result.exit_code == 2 and "config.json" in result.output


def test_analysis_never_writes_into_another_folder(experts, tmp_path):
    base, math, language = experts
    from polyglot.config import ConfigError

    with pytest.raises(ConfigError, match="not a merge analysis"):
        analyze(base, [math], math)  # an expert's folder
    analyze(base, [math], tmp_path / "a")
    analyze(base, [math], tmp_path / "a")  # the same models again: fine
    with pytest.raises(ConfigError, match="--overwrite"):
        analyze(base, [language], tmp_path / "a")
    analyze(base, [language], tmp_path / "a", overwrite=True)
