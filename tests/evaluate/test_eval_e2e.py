"""`polyglot eval` and `polyglot report` end to end on a tiny local model over real MGSM items."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.evaluate.records import read_records

runner = CliRunner()
LANGS = "en,de,th"


def _eval_args(model, out, *extra) -> list[str]:
    return ["eval", "--model", str(model), "--benchmark", "mgsm", "--languages", LANGS,
            "--limit", "4", "--max-new-tokens", "16", "--batch-size", "2", "--out", str(out),
            "--no-progress", *extra]  # fmt: skip


def _eval(model, out, *extra):
    return runner.invoke(app, _eval_args(model, out, *extra))


def _outputs(out: Path) -> dict[str, str]:
    return {k: r["output"] for k, r in read_records(out / "generations.jsonl").items()}


def _without_timing(languages: dict) -> dict:
    return {
        lang: {k: v for k, v in row.items() if k != "items_per_second"}
        for lang, row in languages.items()
    }


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


@pytest.fixture(scope="module")
def full_run(tiny_model, mgsm, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "full"
    result = _eval(tiny_model, out)
    assert result.exit_code == 0, result.output
    return out


def test_eval_writes_every_file(full_run):
    for name in ("run.json", "generations.jsonl", "results.json", "report.md", "report.html"):
        assert (full_run / name).exists(), name
    results = json.loads((full_run / "results.json").read_text())
    assert results["schema"] == "polyglot.eval.results/2"
    assert results["intervals"]["accuracy"] == "wilson 95%"
    assert list(results["languages"]) == ["en", "de", "th"]
    assert all(row["n"] == 4 for row in results["languages"].values())
    run = results["run"]
    assert run["model"]["fingerprint"] and run["versions"]["transformers"]
    assert run["config"]["seed"] == 0 and run["dataset_hash"]
    records = read_records(full_run / "generations.jsonl")
    assert len(records) == 12
    first = next(iter(records.values()))
    assert {"id", "lang", "prompt", "output", "answer", "rule", "correct", "seconds"} <= set(first)


def test_results_recompute_from_the_records(full_run):
    results = json.loads((full_run / "results.json").read_text())
    records = read_records(full_run / "generations.jsonl").values()
    for lang, row in results["languages"].items():
        mine = [r for r in records if r["lang"] == lang]
        assert row["correct"] == sum(r["correct"] for r in mine)
        assert row["no_answer"] == sum(r["answer"] is None for r in mine)


def test_report_html_parses_and_has_the_charts(full_run):
    html = (full_run / "report.html").read_text()
    parser = _Tags()
    parser.feed(html)
    assert parser.tags.count("svg") == 3  # accuracy with CIs, gap to English, CoT language
    assert "accuracy per language (95% Wilson CI)" in html and "gap to English" in html
    assert "language of the chain of thought" in html
    assert "<link" not in html and "<script src" not in html  # self-contained
    assert "| th |" in (full_run / "report.md").read_text()


def test_a_finished_run_is_not_recomputed(full_run, tiny_model):
    before = (full_run / "generations.jsonl").read_bytes()
    result = _eval(tiny_model, full_run)
    assert result.exit_code == 0 and "already complete" in result.output
    assert (full_run / "generations.jsonl").read_bytes() == before


def test_resume_after_a_cut_gives_identical_results(full_run, tiny_model, tmp_path):
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "run.json").write_text((full_run / "run.json").read_text())
    lines = (full_run / "generations.jsonl").read_text().splitlines(keepends=True)
    (cut / "generations.jsonl").write_text("".join(lines[:5]) + lines[5][:40])  # half a record
    result = _eval(tiny_model, cut)
    assert result.exit_code == 0, result.output
    assert _outputs(cut) == _outputs(full_run)
    full = json.loads((full_run / "results.json").read_text())
    resumed = json.loads((cut / "results.json").read_text())
    assert _without_timing(resumed["languages"]) == _without_timing(full["languages"])


def test_resume_after_a_real_kill(full_run, tiny_model, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "polyglot", *_eval_args(tiny_model, out)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    generations = out / "generations.jsonl"
    while time.time() < deadline and process.poll() is None:
        if generations.exists() and generations.read_text().count("\n") >= 1:
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    partial = read_records(generations)
    assert 0 < len(partial) < 12, "the run should have been killed mid-way"
    assert not (out / "results.json").exists()
    result = _eval(tiny_model, out)
    assert result.exit_code == 0, result.output
    assert _outputs(out) == _outputs(full_run)


def test_a_different_config_in_the_same_folder_is_refused(full_run, tiny_model):
    result = _eval(tiny_model, full_run, "--mode", "en-cot")
    assert result.exit_code == 2
    assert (
        "differs from this one" in result.output
        and "mode 'native-cot' -> 'en-cot'" in result.output
    )


def test_report_compares_runs_with_paired_tests(full_run, tiny_model, tmp_path):
    other = tmp_path / "en-cot"
    assert _eval(tiny_model, other, "--mode", "en-cot").exit_code == 0
    result = runner.invoke(
        app, ["report", str(full_run), str(other), "--out", str(tmp_path / "cmp")]
    )
    assert result.exit_code == 0, result.output
    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert set(comparison["runs"]) == {"full", "en-cot"}
    assert {p["lang"] for p in comparison["paired"]} == {"en", "de", "th"}
    assert all(0 <= p["mcnemar_p"] <= 1 for p in comparison["paired"])
    parser = _Tags()
    parser.feed((tmp_path / "cmp" / "comparison.html").read_text())
    assert "svg" in parser.tags


def test_eval_from_a_yaml_config(tiny_model, mgsm, tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text(
        f"model: {tiny_model}\nbenchmark: mgsm\nlanguages: [en, sw]\nlimit: 2\n"
        f"max_new_tokens: 8\nmode: direct\nout: {tmp_path / 'yaml-run'}\n"
    )
    result = runner.invoke(app, ["eval", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "yaml-run" / "results.json").read_text())
    assert (
        list(results["languages"]) == ["en", "sw"] and results["run"]["config"]["mode"] == "direct"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--languages", "en,xx"], "xx"),
        (["--languages", "en,ko"], "no language ko"),
        (["--model", "/nonexistent/model"], "no model at"),
        (["--mode", "fancy"], "mode"),
        (["--shots", "-1"], "shots"),
    ],
)
def test_bad_input_is_one_clear_line(tiny_model, mgsm, tmp_path, args, message):
    base = [
        "eval",
        "--model",
        str(tiny_model),
        "--benchmark",
        "mgsm",
        "--limit",
        "1",
        "--out",
        str(tmp_path / "bad"),
        "--no-progress",
    ]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_bad_yaml_config_names_the_field(tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text("model: m\nmax_new_tokns: 5\n")
    result = runner.invoke(app, ["eval", "--config", str(config)])
    assert result.exit_code == 2
    assert "max_new_tokns" in result.output and "max_new_tokens" in result.output


def test_shared_backends_load_a_model_once(full_run, tiny_model, tmp_path, monkeypatch):
    from polyglot.evaluate import EvalConfig, evaluate
    from polyglot.evaluate import runner as run_module

    loads = []
    real = run_module.load_backend
    monkeypatch.setattr(run_module, "load_backend", lambda s: loads.append(s) or real(s))
    common = dict(model=str(tiny_model), benchmark="mgsm", limit=2, max_new_tokens=8,
                  progress=False)  # fmt: skip
    backends: dict = {}
    first = evaluate(EvalConfig(**common, languages=["en"], out=str(tmp_path / "a")), backends)
    second = evaluate(EvalConfig(**common, languages=["de"], out=str(tmp_path / "b")), backends)
    assert len(loads) == 1 and len(backends) == 1
    assert first.generated == 2 and second.generated == 2
    # same outputs as a run that loads its own model
    alone = evaluate(EvalConfig(**common, languages=["de"], out=str(tmp_path / "c")))
    assert _outputs(tmp_path / "b") == _outputs(tmp_path / "c")
    assert alone.generated == 2 and len(loads) == 2


def test_prompts_cut_to_fit_the_context_are_counted_and_warned(tiny_model, mgsm, tmp_path):
    out = tmp_path / "cut"
    # the tiny model has 1024 positions: 1000 new tokens leave 24 for each MGSM prompt
    result = _eval(tiny_model, out, "--max-new-tokens", "1000", "--limit", "2", "--languages", "en")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["languages"]["en"]["truncated_prompts"] == 2
    assert results["summary"]["truncated_prompts"] == 2
    assert "warning:" in result.output and "longer than the model's context" in result.output
    assert "2 prompts were longer than the model's context" in (out / "report.md").read_text()
    records = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert all(r["truncated"] == r["prompt_tokens"] - 24 > 0 for r in records)
