"""The real CLI through typer's test runner, and the console script in a subprocess."""

import os
import subprocess
import sys

from typer.testing import CliRunner

from polyglot.cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_languages_lists_every_pack():
    result = run("languages")
    assert result.exit_code == 0
    assert "20 language packs" in result.output and "Bengali" in result.output


def test_languages_show_one_pack():
    result = run("languages", "show", "ko")
    assert result.exit_code == 0
    assert "Korean" in result.output and "정답은 {n}입니다." in result.output


def test_languages_show_unknown_is_one_line_error():
    result = run("languages", "show", "xx")
    assert result.exit_code == 2
    assert "unknown language 'xx'" in result.output
    assert "Traceback" not in result.output


def test_text_answer_prints_value_and_rule():
    result = run("text", "answer", "--lang", "de", "Die Antwort lautet 1.000.")
    assert result.exit_code == 0
    value, rule, _ = result.output.split("\t")
    assert (value, rule) == ("1000", "rule=cue")


def test_text_answer_exits_non_zero_without_answer():
    result = run("text", "answer", "--lang", "en", "no idea")
    assert result.exit_code == 1 and "no answer" in result.output


def test_text_lang():
    result = run(
        "text", "lang", "--sentences", "Roger hat fünf Tennisbälle und kauft zwei weitere Dosen."
    )
    assert result.exit_code == 0 and result.output.startswith("de\t")


def test_data_show(shared_data):
    result = run("data", "show", "mgsm", "--lang", "sw", "--n", "3", "--prompt", "--shots", "2")
    assert result.exit_code == 0
    assert "Janet" in result.output and "Jibu ni 11." in result.output


def test_data_show_bad_inputs(tmp_path, shared_data):
    result = run("data", "show", "mgsm", "--lang", "ko")
    assert result.exit_code == 2 and "has no language ko" in result.output
    result = run("data", "show", "mgsm", "--data", str(tmp_path / "none_{lang}.tsv"))
    assert result.exit_code == 2 and "no data file" in result.output
    result = run("data", "show", "custom", "--data", "x.jsonl", "--columns", "question")
    assert result.exit_code == 2 and "--columns" in result.output


def test_console_script_help_starts_without_heavy_imports():
    code = "import sys; from polyglot.cli.main import app; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.split() == ["False", "False"]
