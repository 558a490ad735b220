"""``polyglot merge soup|ties|task-arithmetic`` through mergekit: the arithmetic of each merge
checked against an independent computation, and the folder conventions of every merge."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.merge import standard_merge

from .test_analyze import _expert
from .test_layer_swap import _tensors

pytest.importorskip("mergekit")
runner = CliRunner()


@pytest.fixture(scope="module")
def experts(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("standard")
    math = _expert(tiny_model, root / "math", layers=[0, 1, 2, 3], scale=0.5, shard="100KB")
    language = _expert(tiny_model, root / "language", layers=[0, 1, 2, 3], scale=0.3,
                       shard="100KB", embeddings=True)  # fmt: skip
    return math, language


def test_soup_is_the_average(experts, tmp_path):
    math, language = experts
    result = runner.invoke(
        app,
        ["merge", "soup", "--expert", str(math), "--expert", str(language),
         "--out", str(tmp_path / "soup")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    merged, a, b = _tensors(tmp_path / "soup"), _tensors(math), _tensors(language)
    for name in a:
        assert torch.allclose(merged[name], 0.5 * a[name] + 0.5 * b[name], atol=1e-6), name
    recipe = json.loads((tmp_path / "soup" / "merge.json").read_text())
    assert recipe["method"] == "soup" and recipe["weights"] == [0.5, 0.5]
    assert (tmp_path / "soup" / "mergekit.yaml").is_file()
    assert (tmp_path / "soup" / "card.json").is_file()
    again = runner.invoke(
        app,
        ["merge", "soup", "--expert", str(math), "--expert", str(language),
         "--out", str(tmp_path / "soup")],
    )  # fmt: skip
    assert again.exit_code == 0 and "reused" in again.output


def test_task_arithmetic_adds_the_changes(experts, tiny_model, tmp_path):
    math, language = experts
    standard_merge("task-arithmetic", [math, language], tmp_path / "ta", base=tiny_model,
                   weights=[1.0, 0.5])  # fmt: skip
    merged, a, b = _tensors(tmp_path / "ta"), _tensors(math), _tensors(language)
    base = _tensors(tiny_model)
    for name in a:
        expected = base[name] + (a[name] - base[name]) + 0.5 * (b[name] - base[name])
        assert torch.allclose(merged[name], expected, atol=1e-5), name


def _ties(base, deltas, weights, density):
    """TIES for one tensor, written from the paper: trim, elect sign, disjoint mean."""
    trimmed = []
    for delta in deltas:
        k = int(density * delta.numel())
        keep = torch.zeros_like(delta, dtype=torch.bool).flatten()
        if k:
            keep[delta.abs().flatten().topk(k).indices] = True
        trimmed.append(delta * keep.view_as(delta))
    weighted = torch.stack([w * t for w, t in zip(weights, trimmed, strict=True)])
    sign = torch.sign(weighted.sum(0))
    agree = (torch.sign(weighted) == sign) & (weighted != 0)
    mass = (torch.tensor(weights).view(-1, *[1] * base.dim()) * agree).sum(0)
    total = (weighted * agree).sum(0) / mass.clamp(min=1e-12)
    return base + torch.where(mass > 0, total, torch.zeros_like(total))


def test_ties_matches_the_paper(experts, tiny_model, tmp_path):
    math, language = experts
    standard_merge("ties", [math, language], tmp_path / "ties", base=tiny_model, density=0.5)
    merged, a, b = _tensors(tmp_path / "ties"), _tensors(math), _tensors(language)
    base = _tensors(tiny_model)
    name = "model.layers.1.mlp.down_proj.weight"
    expected = _ties(base[name], [a[name] - base[name], b[name] - base[name]], [1.0, 1.0], 0.5)
    assert torch.allclose(merged[name], expected, atol=1e-5)
    assert not torch.equal(merged[name], base[name])
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tmp_path / "ties")
    assert torch.isfinite(model(torch.tensor([[1, 2, 3]])).logits).all()


def test_refusals(experts, tiny_model, tmp_path):
    math, language = experts
    with pytest.raises(ConfigError, match="needs the base"):
        standard_merge("ties", [math, language], tmp_path / "o")
    with pytest.raises(ConfigError, match="at least two"):
        standard_merge("soup", [math], tmp_path / "o")
    with pytest.raises(ConfigError, match="weight"):
        standard_merge("soup", [math, language], tmp_path / "o", weights=[1.0])
    with pytest.raises(ConfigError, match="density"):
        standard_merge("ties", [math, language], tmp_path / "o", base=tiny_model, density=1.5)
    with pytest.raises(ConfigError, match="one of"):
        standard_merge("slerp", [math, language], tmp_path / "o")
    with pytest.raises(ConfigError, match="given twice"):
        standard_merge("soup", [math, math.parent / "." / math.name], tmp_path / "o")
    result = runner.invoke(app, ["merge", "ties", "--expert", str(math), "--out", "x"])
    assert result.exit_code == 2 and "--base" in result.output
    assert not (tmp_path / "o").exists()


def test_a_config_without_architectures_is_named(experts, tiny_model, tmp_path):
    import shutil

    math, language = experts
    bare = tmp_path / "bare"
    shutil.copytree(language, bare)
    config = json.loads((bare / "config.json").read_text())
    config.pop("architectures", None)
    (bare / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="architectures"):
        standard_merge("soup", [math, bare], tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_soup_weights_are_relative(experts, tmp_path):
    math, language = experts
    standard_merge("soup", [math, language], tmp_path / "s", weights=[1.0, 1.0])
    merged, a, b = _tensors(tmp_path / "s"), _tensors(math), _tensors(language)
    name = "model.layers.1.mlp.down_proj.weight"
    assert torch.allclose(merged[name], 0.5 * a[name] + 0.5 * b[name], atol=1e-6)
