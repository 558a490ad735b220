"""``polyglot merge run``: recipes validated with errors that name the field, and a whole
recipe (train both experts, analyse, merge, grid, evaluate, compare) run on the tiny testbed,
then rerun to show that finished stages are reused."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.merge.recipe import load_merge_recipe, parse_grid
from polyglot.resources import shipped_dir

runner = CliRunner()
RECIPES = sorted((shipped_dir("configs") / "merge").glob("*.yaml"))


def test_every_shipped_merge_recipe_validates():
    assert RECIPES
    for path in RECIPES:
        recipe = load_merge_recipe(path)
        assert recipe.experts["math"].train or recipe.experts["math"].path


def _write(tmp_path, text: str):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


BASIC = """\
base: b
experts: {math: m, language: l}
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("merges: [{method: layer-swap, bottom: 1}]", "needs 'bottom' and 'top'"),
        ("merges: [{method: soup, bottom: 1}]", "takes no bottom"),
        ("merges: [{method: slerp}]", "layer-swap"),
        ("merges: [{method: soup}, {method: soup}]", "two merges are named soup"),
        ("merges: [{method: soup, wieghts: [1, 1]}]", "did you mean 'weights'"),
        ("eval: {model: x}", "set by merge run"),
        ("eval: {benchmark: testbed, limt: 3}", "limit"),
        ("grid: {bottom: [], top: [1]}", "non-empty"),
        ("eval: {benchmark: testbed, progress: false}", "set by merge run"),
        ("merges: [{method: soup, name: base}]", "may not be named base"),
        ("merges: [{method: layer-swap, bottom: 1, top: 1, ramp: [0.5]}]", "ramp"),
    ],
)
def test_bad_recipes_name_the_field(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        load_merge_recipe(_write(tmp_path, BASIC + body + "\nout: o\n"))


def test_recipes_that_need_a_base_say_so(tmp_path):
    text = "experts: {math: m, language: l}\nmerges: [{method: ties}]\nout: o\n"
    with pytest.raises(ConfigError, match="'base' is needed by ties"):
        load_merge_recipe(_write(tmp_path, text))
    text = "experts: {math: m}\nmerges: [{method: layer-swap, bottom: 1, top: 1}]\nout: o\n"
    with pytest.raises(ConfigError, match="missing: language"):
        load_merge_recipe(_write(tmp_path, text))


def test_grid_parsing():
    assert parse_grid(["bottom=1..3 top=0,2"]) == {"bottom": [1, 2, 3], "top": [0, 2]}
    assert parse_grid(["bottom=0", "top=0..1", "transition=1"])["transition"] == 1
    with pytest.raises(ConfigError, match="top"):
        parse_grid(["bottom=1..3"])
    with pytest.raises(ConfigError, match="numbers"):
        parse_grid(["bottom=a..b", "top=1"])
    with pytest.raises(ConfigError, match="expected bottom"):
        parse_grid(["bottm=1", "top=1"])


def test_a_recipe_runs_end_to_end_and_reruns_from_its_stages(testbed, tmp_path, monkeypatch):
    """configs/merge/testbed-sw.yaml, unchanged but for its length, on the tiny testbed at
    runs/testbed: both experts trained, analysis, merges, grid, evaluation, report; the rerun
    makes nothing again; another setting in a finished folder is refused."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "testbed").symlink_to(testbed)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYGLOT_TESTBED_DIR", raising=False)
    recipe = str(shipped_dir("configs") / "merge" / "testbed-sw.yaml")
    short = [
        'experts.math.overrides=["training.steps=3"]',
        'experts.language.overrides=["data.0.path=runs/testbed/world/general/sw.jsonl", '
        '"training.epochs=0.05"]',
        "eval.limit=3",
        "eval.max_new_tokens=12",
        "out=runs/merge/sw",
    ]
    args = ["merge", "run", recipe, *short, "--grid", "bottom=0..1", "top=0..1", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / "merge" / "sw"
    summary = json.loads((out / "summary.json").read_text())
    names = set(summary["accuracy"])
    assert {"base", "math-expert", "language-expert", "soup", "ties", "task-arithmetic"} <= names
    assert {"swap-b1-u1-t1", "swap-b0-u1", "swap-b1-u0", "swap-b1-u1"} <= names
    assert summary["suggested_swap"].startswith("swap-suggested-b")
    assert summary["best_swap"] in names and summary["languages"] == ["en", "sw"]
    assert summary["accuracy"]["base"]["sw"]["n"] == 3
    assert len(summary["grid"]["names"]) == 4
    html = (out / "report" / "comparison.html").read_text()
    assert "Layer-swap grid" in html and "sw: accuracy of the layer swap" in html
    assert (out / "analysis" / "analysis.json").is_file()
    assert (out / "experts" / "math" / "summary.json").is_file()
    for name in ("soup", "swap-b1-u1-t1"):
        assert (out / "models" / name / "card.json").is_file()
    assert "accuracy % per language" in result.output

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "(made)" not in again.output and again.output.count("(reused)") >= 8

    with (out / "models" / "soup" / "merge.json").open() as handle:
        assert json.load(handle)["weights"] == [0.5, 0.5]
    (tmp_path / "r.yaml").write_text(
        (shipped_dir("configs") / "merge" / "testbed-sw.yaml")
        .read_text()
        .replace("{method: soup}", "{method: soup, weights: [0.7, 0.3]}")
    )
    changed = ["merge", "run", str(tmp_path / "r.yaml"), *short, "--grid", "bottom=0..1",
               "top=0..1", "--quiet"]  # fmt: skip
    refused = runner.invoke(app, changed)
    assert refused.exit_code != 0 and "--overwrite" in refused.output
    forced = runner.invoke(app, [*changed, "--overwrite"])
    assert forced.exit_code == 0, forced.output
    # --overwrite replaced only the soup: the experts, other merges and evaluations are reused
    assert forced.output.count("(made)") == 1 and "training full" not in forced.output
    with (out / "models" / "soup" / "merge.json").open() as handle:
        assert json.load(handle)["weights"] == [0.7, 0.3]


def test_grid_words_without_the_flag_are_explained(tmp_path):
    result = runner.invoke(app, ["merge", "run", str(RECIPES[0]), "top=0..2"])
    assert result.exit_code != 0 and "--grid" in result.output


def test_a_recipe_is_checked_before_the_first_merge(experts_on_disk, tmp_path):
    math, language = experts_on_disk
    text = (
        f"experts: {{math: {math}, language: {language}}}\n"
        "merges: [{method: layer-swap, bottom: 1, top: 1}]\n"
        "grid: {bottom: [0, 9], top: [0]}\n"
        f"out: {tmp_path / 'o'}\n"
    )
    from polyglot.merge.run import run_merge_recipe

    with pytest.raises(ConfigError, match="merge 'swap-b9-u0'.*more than the model's"):
        run_merge_recipe(load_merge_recipe(_write(tmp_path, text)), log=lambda m: None)
    assert not (tmp_path / "o" / "models").exists()  # nothing was made
    clash = text.replace(
        "bottom: 1, top: 1}", "bottom: 1, top: 1, transition: 1, name: swap-b0-u0}"
    )
    with pytest.raises(ConfigError, match="two different merges would be named 'swap-b0-u0'"):
        run_merge_recipe(load_merge_recipe(_write(tmp_path, clash)), log=lambda m: None)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    lora = text.replace(f"language: {language}", f"language: {adapter}")
    with pytest.raises(ConfigError, match="experts.language: .* LoRA adapter"):
        run_merge_recipe(load_merge_recipe(_write(tmp_path, lora)), log=lambda m: None)


@pytest.fixture()
def experts_on_disk(tiny_model, tmp_path):
    from .test_analyze import _expert

    return (
        _expert(tiny_model, tmp_path / "math", layers=[1, 2], scale=0.5),
        _expert(tiny_model, tmp_path / "language", layers=[0, 3], scale=0.5),
    )
