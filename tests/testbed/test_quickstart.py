"""`polyglot testbed build --tiny` and `polyglot quickstart --tiny` end to end, in a temp dir."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.testbed.world import DEFAULT_LANGUAGES

runner = CliRunner()


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("quickstart")
    result = runner.invoke(
        app,
        [
            "quickstart",
            "--tiny",
            "--out",
            str(root / "qs"),
            "--testbed",
            str(root / "testbed"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    return root


def test_quickstart_tiny_writes_a_loadable_checkpoint(quickstart_run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = quickstart_run / "testbed" / "base"
    model = AutoModelForCausalLM.from_pretrained(base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    assert model.config.num_hidden_layers == 6
    assert 50_000 < sum(p.numel() for p in model.parameters()) < 5_000_000
    assert tokenizer("Jibu ni 12.").input_ids


def test_quickstart_tiny_results_cover_every_testbed_language(quickstart_run):
    results = json.loads((quickstart_run / "qs" / "base-testbed" / "results.json").read_text())
    assert list(results["languages"]) == list(DEFAULT_LANGUAGES)
    assert all(row["n"] == 12 for row in results["languages"].values())
    summary = json.loads((quickstart_run / "qs" / "summary.json").read_text())
    assert [row["benchmark"] for row in summary["stages"]] == [
        "testbed", "MGSM slice", *["testbed"] * 8
    ]  # fmt: skip
    math, language, swap, full, selective, sequence, token = summary["stages"][3:]
    assert sequence["model"].startswith("+ sequence-level KD (sw")
    assert token["model"].startswith("+ token-level KD, forward KL (sw")
    assert set(token["per_language"]) == set(DEFAULT_LANGUAGES)
    assert (quickstart_run / "qs" / "distill-token-sw" / "model.safetensors").is_file()
    assert full["model"].startswith("translate-all")
    assert selective["model"].startswith("selective translation (confidence, budget 0.5")
    assert set(selective["per_language"]) == set(DEFAULT_LANGUAGES)
    lines = (quickstart_run / "qs" / "selective" / "generations.jsonl").open()
    foreign = [r for r in map(json.loads, lines) if r["lang"] != "en"]
    translated = sum(r["route"] == "translated" for r in foreign)
    assert 0 < translated <= 0.5 * len(foreign)  # the budget
    assert math["model"].startswith("math expert") and language["model"].startswith("language")
    assert swap["model"].startswith("layer swap, suggested b=")
    assert set(swap["per_language"]) == {"en", "sw"}  # --tiny: the stage's two languages
    assert (quickstart_run / "qs" / "layer-swap-sw" / "report" / "comparison.html").is_file()
    tuned = summary["stages"][2]
    assert tuned["model"].startswith("+ english-cot SFT (sw")
    assert set(tuned["per_language"]) == set(DEFAULT_LANGUAGES)
    assert (
        quickstart_run / "qs" / "finetune-english-cot-sw" / "adapter_model.safetensors"
    ).is_file()
    assert set(summary["testbed_build"]) == {"world", "tokenizer", "base"}
    mgsm = json.loads((quickstart_run / "qs" / "base-mgsm" / "results.json").read_text())
    assert set(mgsm["languages"]) == {"en", "de", "sw", "th", "bn"}


def test_quickstart_report_renders(quickstart_run):
    html = (quickstart_run / "qs" / "report.html").read_text()
    tags = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append(tag)

    Parser().feed(html)
    assert "svg" in tags and "table" in tags
    assert "base-testbed/report.html" in html


def test_rerun_reuses_every_stage(quickstart_run):
    before = (quickstart_run / "testbed" / "base" / "model.safetensors").stat().st_mtime_ns
    generations = (quickstart_run / "qs" / "base-testbed" / "generations.jsonl").read_bytes()
    adapter = quickstart_run / "qs" / "finetune-english-cot-sw" / "adapter_model.safetensors"
    trained = adapter.stat().st_mtime_ns
    merged = {
        p: p.stat().st_mtime_ns for p in (quickstart_run / "qs").glob("layer-swap-sw/*/*/card.json")
    }
    assert len(merged) >= 3  # both experts' cards, the swap's
    distilled = quickstart_run / "qs" / "distill-token-sw" / "model.safetensors"
    distilled_at = distilled.stat().st_mtime_ns
    result = runner.invoke(
        app,
        [
            "quickstart",
            "--tiny",
            "--out",
            str(quickstart_run / "qs"),
            "--testbed",
            str(quickstart_run / "testbed"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (quickstart_run / "testbed" / "base" / "model.safetensors").stat().st_mtime_ns == before
    assert (
        quickstart_run / "qs" / "base-testbed" / "generations.jsonl"
    ).read_bytes() == generations
    assert adapter.stat().st_mtime_ns == trained  # the fine-tuned model is reused too
    assert {p: p.stat().st_mtime_ns for p in merged} == merged  # experts and swap too
    assert distilled.stat().st_mtime_ns == distilled_at  # the distilled students too


def test_testbed_build_refuses_another_config_without_fresh(quickstart_run):
    result = runner.invoke(
        app,
        [
            "testbed",
            "build",
            "--tiny",
            "--steps",
            "3",
            "--out",
            str(quickstart_run / "testbed"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 2
    assert "--fresh" in result.output


def test_quickstart_checks_extraction_on_real_mgsm(quickstart_run):
    results = json.loads((quickstart_run / "qs" / "extraction.json").read_text(encoding="utf-8"))
    rows = {row["lang"]: row for row in results["extraction"]}
    assert len(rows) == 11
    assert all(row["exemplars_correct"] == 8 for row in rows.values())
    assert all(row["round_trip_correct"] == row["items"] == 250 for row in rows.values())


@pytest.mark.parametrize("packing", ["stream", "documents"])
def test_learning_curve_script_runs_on_a_built_testbed(quickstart_run, packing):
    """scripts/testbed_curve.py (docs/testbed.md's learning curves) retrains on the tiny testbed."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[2] / "scripts" / "testbed_curve.py"
    args = ["--steps", "2", "--every", "1", "--items", "2", "--hidden", "32"]
    args += ["--intermediate", "64", "--packing", packing, "--threads", "1"]
    result = subprocess.run(
        [sys.executable, str(script), "--testbed", str(quickstart_run / "testbed"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    points = [line for line in result.stdout.splitlines() if line.startswith("step")]
    assert [line.split()[1] for line in points] == ["1", "2"]
    assert f"'packing': '{packing}'" in result.stdout


def test_the_quickstart_names_its_own_flag_in_refusals(monkeypatch):
    import pytest

    from polyglot.config import ConfigError
    from polyglot.quickstart import pipeline

    def refuse(config, backends):
        raise ConfigError("runs/x holds a finished run that differs; pass --overwrite")

    monkeypatch.setattr(pipeline, "evaluate", refuse)
    with pytest.raises(ConfigError, match="pass --fresh$"):
        pipeline._evaluate(None, {})
