"""The command line on the mistakes a new user makes: each gives one line naming the file, line
or field, and exit code 2 — never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tiny_model, tmp_path_factory, shared_data):
    """A finished tiny run, a file where a folder belongs, and broken copies of each file."""
    root = tmp_path_factory.mktemp("bad-input")
    run = root / "run"
    args = ["eval", "--model", str(tiny_model), "--benchmark", "mgsm", "--languages", "en,de"]
    args += ["--limit", "2", "--max-new-tokens", "4", "--no-progress", "--out", str(run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (root / "a-file").write_text("not a folder\n")
    (root / "empty").mkdir()
    # a run whose generations.jsonl is damaged in the middle (not just a cut last line)
    shutil.copytree(run, root / "damaged-generations")
    lines = (run / "generations.jsonl").read_text().splitlines()
    (root / "damaged-generations" / "generations.jsonl").write_text(
        "\n".join([lines[0], lines[1][: len(lines[1]) // 2], *lines[2:]]) + "\n"
    )
    # a run whose run.json was cut off mid-write, and one whose run.json lacks fields
    shutil.copytree(run, root / "partial-run-json")
    text = (run / "run.json").read_text()
    (root / "partial-run-json" / "run.json").write_text(text[: len(text) // 3])
    shutil.copytree(run, root / "fieldless-run-json")
    (root / "fieldless-run-json" / "run.json").write_text('{"config": {}}\n')
    # a run whose results.json is corrupt, given to `polyglot report`
    shutil.copytree(run, root / "corrupt-results")
    (root / "corrupt-results" / "results.json").write_text('{"schema": "polyglot.eval.res')
    # a model folder with a damaged weight file, and one that is no model at all
    shutil.copytree(tiny_model, root / "damaged-model")
    weights = root / "damaged-model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (root / "not-a-model").mkdir()
    (root / "not-a-model" / "notes.txt").write_text("hello\n")
    # YAML configs: a misspelled columns key, a syntax error
    (root / "typo.yaml").write_text(
        f"model: {tiny_model}\nbenchmark: mgsm\ncolumns:\n  questoin: 0\n  answer: 1\n"
    )
    (root / "broken.yaml").write_text("model: [unclosed\nbenchmark: mgsm\n")
    (root / "latin1_en.tsv").write_bytes(b"caf\xe9 has 3 cups\t3\n")
    shutil.copytree(shared_data / "mgsm", root / "mgsm-bad-exemplars")
    (root / "mgsm-bad-exemplars" / "exemplars.json").write_text('{"foo": 1}')
    shutil.copytree(tiny_model, root / "bad-tokenizer")
    (root / "bad-tokenizer" / "tokenizer.json").write_text('{"foo": 1}')
    (root / "adapter-no-weights").mkdir()
    (root / "adapter-no-weights" / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (root / "trained").mkdir()
    (root / "trained" / "card.json").write_text('{"kind": "trained-model"}\n')
    (root / "testbed").mkdir()
    (root / "testbed" / "testbed.json").write_text("{ not json")
    return {"root": root, "run": run, "model": tiny_model}


def _eval(world, *extra: str) -> list[str]:
    base = ["eval", "--model", str(world["model"]), "--benchmark", "mgsm", "--languages", "en"]
    return base + ["--limit", "2", "--max-new-tokens", "4", "--no-progress", *extra]


CASES = {
    # name: (arguments built from the world, words the one line must contain)
    "custom data is a folder": (
        lambda w: _eval(w, "--benchmark", "custom", "--data", str(w["root"] / "empty")),
        "is a folder; pass a file pattern",
    ),
    "--out is an existing file": (
        lambda w: _eval(w, "--out", str(w["root"] / "a-file")),
        "is a file, expected a folder",
    ),
    "--out below a file": (
        lambda w: _eval(w, "--out", str(w["root"] / "a-file" / "run")),
        "is a file, not a folder",
    ),
    "damaged generations.jsonl": (
        lambda w: _eval(w, "--languages", "en,de", "--out", str(w["root"] / "damaged-generations")),
        "generations.jsonl:2: damaged record",
    ),
    "run.json cut off": (
        lambda w: _eval(w, "--languages", "en,de", "--out", str(w["root"] / "partial-run-json")),
        "run.json: damaged card",
    ),
    "run.json without its fields": (
        lambda w: _eval(w, "--languages", "en,de", "--out", str(w["root"] / "fieldless-run-json")),
        "damaged run card (no model, benchmark, dataset_hash)",
    ),
    "corrupt results.json to report": (
        lambda w: [
            "report",
            str(w["run"]),
            str(w["root"] / "corrupt-results"),
            "--out",
            str(w["root"] / "cmp"),
        ],
        "results.json: damaged results file (invalid JSON at line 1",
    ),
    "misspelled columns key in YAML": (
        lambda w: ["eval", "--config", str(w["root"] / "typo.yaml")],
        "field 'columns.questoin': unknown key (did you mean 'question'?)",
    ),
    "YAML syntax error": (
        lambda w: ["eval", "--config", str(w["root"] / "broken.yaml")],
        "broken.yaml: invalid YAML at line 2",
    ),
    "--config is a folder": (
        lambda w: ["eval", "--config", str(w["root"] / "empty")],
        "is a folder, expected a YAML file",
    ),
    "--config does not exist": (
        lambda w: ["eval", "--config", str(w["root"] / "nope.yaml")],
        "nope.yaml: no such file",
    ),
    "model folder does not exist": (
        lambda w: ["eval", "--model", str(w["root"] / "no-model"), "--no-progress"],
        "no model at",
    ),
    "model folder without config.json": (
        lambda w: ["eval", "--model", str(w["root"] / "not-a-model"), "--no-progress"],
        "is not a model checkpoint (no config.json",
    ),
    "model weights damaged": (
        lambda w: _eval(
            w, "--model", str(w["root"] / "damaged-model"), "--out", str(w["root"] / "r1")
        ),
        "could not load model",
    ),
    "adapter folder without an adapter": (
        lambda w: _eval(w, "--adapter", str(w["root"] / "empty"), "--out", str(w["root"] / "r2")),
        "no PEFT adapter",
    ),
    "unknown language": (lambda w: _eval(w, "--languages", "en,xx"), "xx"),
    "unknown benchmark": (lambda w: _eval(w, "--benchmark", "gsm9k"), "unknown benchmark 'gsm9k'"),
    "negative shots": (lambda w: _eval(w, "--shots", "-1"), "field 'shots'"),
    "malformed --columns": (
        lambda w: _eval(w, "--benchmark", "custom", "--data", "x.jsonl", "--columns", "q=1"),
        "--columns: expected question=COL",
    ),
    "unknown backend": (lambda w: _eval(w, "--backend", "tgi"), "unknown backend 'tgi'"),
    "unknown dtype": (lambda w: _eval(w, "--dtype", "float8"), "field 'dtype'"),
    "no room for the prompt": (
        lambda w: _eval(w, "--max-new-tokens", "5000", "--out", str(w["root"] / "r3")),
        "leaves no room for a prompt",
    ),
    "report on a folder that is no run": (
        lambda w: ["report", str(w["root"] / "empty")],
        "is not a polyglot eval run",
    ),
    "report on a results file": (
        lambda w: ["report", str(w["run"] / "results.json")],
        "is a file; pass the run folder",
    ),
    "one data file for two languages": (
        lambda w: _eval(w, "--languages", "en,de", "--data", str(w["root"] / "a-file")),
        "has no {lang} but 2 languages were asked for",
    ),
    "eval into a trained model's folder": (
        lambda w: _eval(w, "--out", str(w["root"] / "trained")),
        "holds a trained model (card.json), not an eval run",
    ),
    "custom data not UTF-8": (
        lambda w: _eval(
            w,
            "--benchmark",
            "custom",
            "--data",
            str(w["root"] / "latin1_en.tsv"),
            "--columns",
            "question=0,answer=1",
        ),
        "not UTF-8 text",
    ),
    "damaged exemplars in a --data folder": (
        lambda w: _eval(w, "--data", str(w["root"] / "mgsm-bad-exemplars"), "--shots", "2"),
        "exemplars.json: not MGSM exemplars",
    ),
    "damaged tokenizer.json": (
        lambda w: _eval(
            w, "--model", str(w["root"] / "bad-tokenizer"), "--out", str(w["root"] / "r4")
        ),
        "could not load the tokenizer",
    ),
    "adapter without weights": (
        lambda w: _eval(
            w, "--adapter", str(w["root"] / "adapter-no-weights"), "--out", str(w["root"] / "r5")
        ),
        "no adapter weights",
    ),
    "eval into a model checkpoint": (
        lambda w: _eval(w, "--out", str(w["model"])),
        "holds a model checkpoint, not an eval run",
    ),
    "brackets in a path are not markup": (
        lambda w: ["report", str(w["root"] / "runs[/x]")],
        "runs[/x]: no such run folder",
    ),
    "report on a missing folder": (
        lambda w: ["report", str(w["root"] / "missing")],
        "no such run folder",
    ),
    "report --out is a file": (
        lambda w: ["report", str(w["run"]), str(w["run"]), "--out", str(w["root"] / "a-file")],
        "is a file, expected a folder",
    ),
    "testbed --out is a file": (
        lambda w: ["testbed", "build", "--tiny", "--out", str(w["root"] / "a-file")],
        "is a file, expected a folder",
    ),
    "damaged testbed.json": (
        lambda w: ["testbed", "build", "--tiny", "--out", str(w["root"] / "testbed")],
        "testbed.json: damaged testbed state",
    ),
    "unknown pack in text answer": (
        lambda w: ["text", "answer", "--lang", "xx", "The answer is 3."],
        "xx",
    ),
    "custom benchmark without --data": (
        lambda w: ["data", "show", "custom"],
        "a custom benchmark needs --data",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_line_and_exit_2(world, name):
    build, words = CASES[name]
    result = runner.invoke(app, build(world))
    assert result.exit_code == 2, result.output
    assert (
        "Traceback" not in result.output
        and result.exception is None
        or isinstance(result.exception, SystemExit)
    )
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr  # one line
    assert errors[0].startswith("error: ") and words in errors[0], errors[0]


def test_a_folder_of_mgsm_files_is_accepted_as_data(world, shared_data, tmp_path):
    """What a user with MGSM on disk has: the folder of mgsm_{lang}.tsv (and exemplars.json)."""
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        _eval(world, "--data", str(Path(shared_data) / "mgsm"), "--shots", "2", "--out", str(out)),
    )
    assert result.exit_code == 0, result.output
    assert (out / "results.json").exists()


def test_overwrite_keeps_the_old_run_when_the_new_one_cannot_start(world, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    before = sorted(p.name for p in run.iterdir())
    args = _eval(world, "--languages", "en,de", "--out", str(run), "--overwrite")
    args[args.index("--model") + 1] = str(world["root"] / "no-model")  # a typo in --model
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "no model at" in result.output
    assert sorted(p.name for p in run.iterdir()) == before  # nothing deleted


def test_a_damaged_results_file_of_a_finished_run_is_rebuilt(world, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    (run / "results.json").write_text('{"languages": {}}')  # derived: rebuilt from the records
    result = runner.invoke(app, _eval(world, "--languages", "en,de", "--out", str(run)))
    assert result.exit_code == 0, result.output
    assert "already" in result.output and '"run"' in (run / "results.json").read_text()
