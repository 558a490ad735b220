"""`polyglot eval` on a tiny model whose chat template opens a thinking block (as DeepSeek-R1
distills' do): the run ends, counts the unfinished thinking, and measures its language."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app

runner = CliRunner()

# the shape of Qwen3's / R1's templates: earlier answers lose their thinking; the generation
# prompt opens a block unless enable_thinking is false
TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: "
    "{% if m['role'] == 'assistant' %}{{ m['content'].split('</think>')[-1] }}"
    "{% else %}{{ m['content'] }}{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: "
    "{% if enable_thinking is not defined or enable_thinking %}<think>\n{% endif %}{% endif %}"
)


@pytest.fixture(scope="module")
def thinking_model(tiny_model, tmp_path_factory):
    model = tmp_path_factory.mktemp("thinking") / "model"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["chat_template"] = TEMPLATE
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    return model


def _eval(model, out, *extra):
    args = ["eval", "--model", str(model), "--benchmark", "mgsm", "--languages", "en,de,th"]
    args += ["--limit", "3", "--max-new-tokens", "12", "--chat-template", "--no-progress"]
    return runner.invoke(app, [*args, "--out", str(out), *extra])


def test_a_thinking_template_is_read_as_thinking(thinking_model, tmp_path, mgsm):
    out = tmp_path / "run"
    result = _eval(thinking_model, out)
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["thinking"] == ["<think>", "</think>"]  # declared by the template: auto found it
    results = json.loads((out / "results.json").read_text())
    for lang in ("en", "de", "th"):
        row = results["languages"][lang]
        # 12 tokens of an untrained model never close the block: a counted reason, no crash
        assert row["no_answer_reasons"] == {"thinking did not finish": 3}
        assert "fidelity_thinking" in row and "fidelity" in row  # each measured apart
    # the untrained model writes letters for some languages: their thinking's language is known
    assert any(results["languages"][lang]["fidelity_thinking"] for lang in ("en", "de", "th"))
    records = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert all(r["thinking_finished"] is False and "<think>\n" in r["prompt"] for r in records)
    html = (out / "report.html").read_text()
    assert "language of the thinking" in html and "thinking in lang / en / other %" in html
    assert "thinking did not finish 3" in html


def test_enable_thinking_reaches_the_template(thinking_model, tmp_path, mgsm):
    out = tmp_path / "run"
    assert _eval(thinking_model, out, "--disable-thinking").exit_code == 0
    records = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert not any("<think>" in r["prompt"] for r in records)
    assert all(r["reason"] != "thinking did not finish" for r in records)


class _Tokenizer:
    def __init__(self, template="", vocabulary=()):
        self.chat_template = template
        self.vocabulary = {token: i for i, token in enumerate(vocabulary)}

    def get_vocab(self):
        return self.vocabulary


@pytest.mark.parametrize(
    ("tokenizer", "thinking", "tags"),
    [
        (_Tokenizer("{{ x.split('</think>') }}"), "auto", ("<think>", "</think>")),
        (_Tokenizer(vocabulary=["◁think▷", "◁/think▷"]), "auto", ("◁think▷", "◁/think▷")),
        (_Tokenizer("{{ '</reasoning>' }}"), "auto", ("<reasoning>", "</reasoning>")),
        (_Tokenizer("plain"), "auto", None),
        (_Tokenizer("plain"), "on", ("<think>", "</think>")),
        (_Tokenizer("{{ '</think>' }}"), "off", None),
    ],
)
def test_the_thinking_tags_come_from_the_config_or_the_tokenizer(tokenizer, thinking, tags):
    from polyglot.evaluate import EvalConfig
    from polyglot.evaluate.runner import thinking_tags

    assert thinking_tags(EvalConfig(model="m", thinking=thinking), tokenizer) == tags
