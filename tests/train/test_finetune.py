"""``polyglot train``: recipes, response-only loss, LoRA and full fine-tuning through the real
CLI on a tiny testbed, merge-adapter, reuse and refusal of output folders, a real kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError, parse_overrides
from polyglot.models import load_tokenizer
from polyglot.train.packing import encode_examples
from polyglot.train.recipe import load_recipe

runner = CliRunner()


def _recipe_args(testbed: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        f"base={testbed}/base",
        f"data=[{{path: {testbed}/world/train/sw.jsonl, response_field: cot_mixed, limit: 40}}]",
        "training.steps=6",
        "training.batch_size=4",
        "training.learning_rate=0.003",
        "eval.benchmarks=[{name: testbed, languages: [sw], limit: 3}]",
        "eval.max_new_tokens=24",
        f"out={out}",
        "--no-progress",
        *extra,
    ]


def test_overrides_are_nested_and_typed():
    assert parse_overrides(["training.steps=20", "lora.rank=8", "method=full"]) == {
        "training": {"steps": 20},
        "lora": {"rank": 8},
        "method": "full",
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["training.steps"])


def test_a_recipe_typo_names_the_key_and_suggests_one(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("base: x\ndata: [{path: a.jsonl}]\ntraining: {step: 10}\n")
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    assert "training.step" in str(err.value) and "did you mean 'steps'" in str(err.value)


def test_steps_or_epochs_not_both():
    with pytest.raises(ConfigError, match="exactly one of 'steps' and 'epochs'"):
        load_recipe(
            None, ["base=x", "data=[{path: a.jsonl}]", "training.epochs=2", "training.steps=5"]
        )


def test_every_shipped_recipe_validates():
    from polyglot.resources import shipped_dir

    recipes = sorted((shipped_dir("configs") / "train").glob("*.yaml"))
    assert len(recipes) >= 4
    for path in recipes:
        load_recipe(path)


def test_tokenizers_without_bos_and_templates_that_end_with_eos():
    """Qwen-style tokenizers have no BOS: none is prepended; a chat template that writes BOS
    or ends the response with EOS does not get a second one."""

    class Stub:
        bos_token_id, eos_token_id = None, 2

        def __call__(self, texts, add_special_tokens=False):
            class Out:
                input_ids = [[int(t) for t in text.split()] for text in texts]

            return Out()

    [row], _ = encode_examples(Stub(), [("5 6", "7 8")])
    assert row["input_ids"] == [5, 6, 7, 8, 2] and row["labels"] == [-100, -100, 7, 8, 2]
    stub = Stub()
    stub.bos_token_id = 1
    [row], _ = encode_examples(stub, [("1 5", "7 2")])
    assert row["input_ids"] == [1, 5, 7, 2] and row["labels"] == [-100, -100, 7, 2]


def test_loss_is_on_the_response_tokens_only(testbed):
    tokenizer = load_tokenizer(str(testbed / "base"), padding_side="right")
    [row], cut = encode_examples(tokenizer, [("Question: 2 + 2?", " 2 + 2 = 4. The answer is 4.")])
    prompt = tokenizer("Question: 2 + 2?", add_special_tokens=False).input_ids
    assert cut == 0
    assert row["labels"][: 1 + len(prompt)] == [-100] * (1 + len(prompt))
    assert row["labels"][1 + len(prompt) :] == row["input_ids"][1 + len(prompt) :]
    assert row["labels"][-1] == tokenizer.eos_token_id
    [text], _ = encode_examples(tokenizer, [("", "plain text")])
    assert -100 not in text["labels"]  # plain text trains on every token


@pytest.mark.slow
def test_lora_training_through_the_cli(in_testbed, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, _recipe_args(in_testbed, out))
    assert result.exit_code == 0, result.output
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "recipe.yaml",
        "curve.jsonl",
        "curve.html",
        "summary.json",
        "card.json",
        "tokenizer.json",
    ):
        assert (out / name).is_file(), name
    assert not (out / "_checkpoints").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training"]["steps"] == 6
    figures = summary["eval"]["testbed"]["sw"]
    assert figures["n"] == 3 and figures["ci95"][0] <= figures["accuracy"] <= figures["ci95"][1]
    assert (out / "eval" / "testbed" / "results.json").is_file()
    curve = [json.loads(line) for line in (out / "curve.jsonl").read_text().splitlines()]
    assert [row["step"] for row in curve] == list(range(1, 7))
    assert "<svg" in (out / "curve.html").read_text()

    # the same recipe again: reused, not retrained
    again = runner.invoke(app, _recipe_args(in_testbed, out))
    assert again.exit_code == 0 and "reusing" in again.output
    # other eval settings: the same model, evaluated again with them
    other_eval = [
        a
        if not a.startswith("eval.benchmarks")
        else "eval.benchmarks=[{name: testbed, languages: [de], limit: 2}]"
        for a in _recipe_args(in_testbed, out)
    ]
    regraded = runner.invoke(app, other_eval)
    assert regraded.exit_code == 0 and "reusing" in regraded.output, regraded.output
    assert list(json.loads((out / "summary.json").read_text())["eval"]["testbed"]) == ["de"]
    # another recipe into the same folder: refused, then replaced with --overwrite
    other = runner.invoke(app, [*_recipe_args(in_testbed, out), "lora.rank=4"])
    assert (
        other.exit_code == 2
        and "holds a finished trained model that differs from this one" in other.output
    )
    replaced = runner.invoke(app, [*_recipe_args(in_testbed, out), "lora.rank=4", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 4
    # --overwrite with the same recipe retrains rather than reusing
    again = runner.invoke(app, [*_recipe_args(in_testbed, out), "lora.rank=4", "--overwrite"])
    assert again.exit_code == 0 and "reusing" not in again.output, again.output

    # polyglot eval --adapter loads it
    evaluated = runner.invoke(
        app,
        [
            "eval",
            "--model",
            str(in_testbed / "base"),
            "--adapter",
            str(out),
            "--benchmark",
            "testbed",
            "--languages",
            "sw",
            "--limit",
            "2",
            "--max-new-tokens",
            "8",
            "--out",
            str(tmp_path / "eval"),
            "--no-progress",
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output

    # merge-adapter: a full model whose logits equal base + adapter under peft
    merged = runner.invoke(app, ["train", "merge-adapter", str(out), "--out", str(tmp_path / "m")])
    assert merged.exit_code == 0, merged.output
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ids = torch.tensor([[1, 5, 9, 14, 20]])
    full = AutoModelForCausalLM.from_pretrained(tmp_path / "m").eval()
    peft = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(in_testbed / "base"), str(out)
    ).eval()
    base = AutoModelForCausalLM.from_pretrained(in_testbed / "base").eval()
    with torch.no_grad():
        assert torch.allclose(full(ids).logits, peft(ids).logits, atol=1e-4)
        assert not torch.allclose(full(ids).logits, base(ids).logits, atol=1e-4)
    assert not (tmp_path / "m" / "adapter_config.json").exists()


@pytest.mark.slow
def test_full_fine_tuning_with_documents_packing_moves_every_weight(in_testbed, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "full"
    result = runner.invoke(
        app,
        [*_recipe_args(in_testbed, out), "method=full", "training.packing=documents", "eval=null"],
    )
    assert result.exit_code == 0, result.output
    before = AutoModelForCausalLM.from_pretrained(in_testbed / "base").state_dict()
    after = AutoModelForCausalLM.from_pretrained(out).state_dict()
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(moved) == len(before), set(before) - set(moved)
    assert json.loads((out / "summary.json").read_text())["eval"] is None


@pytest.mark.slow
def test_bad_data_is_named_and_skip_bad_counts_it(in_testbed, tmp_path):
    data = tmp_path / "d.jsonl"
    good = {
        "lang": "sw",
        "messages": [
            {"role": "user", "content": "Swali?"},
            {"role": "assistant", "content": "Jibu ni 3."},
        ],
    }
    data.write_text(json.dumps(good) + "\n{not json\n" + json.dumps(good) + "\n")
    args = [
        "train",
        f"base={in_testbed}/base",
        f"data=[{{path: {data}}}]",
        "training.steps=2",
        "eval=null",
        f"out={tmp_path / 'o'}",
        "--no-progress",
    ]
    bad = runner.invoke(app, args)
    assert bad.exit_code == 2 and f"{data}:2" in bad.output and "--skip-bad" in bad.output
    skipped = runner.invoke(app, [*args, "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert "skipped 1 bad line" in skipped.output
    unknown = runner.invoke(
        app, [*args[:2], f"data=[{{path: {data}, languages: [xx]}}]", *args[3:-2], "out=/x"]
    )
    assert unknown.exit_code == 2 and "'xx'" in unknown.output, unknown.output
    other = runner.invoke(
        app,
        [
            *args[:2],
            f"data=[{{path: {data}, languages: [th]}}]",
            *args[3:-2],
            f"out={tmp_path / 'th'}",
            "--skip-bad",
        ],
    )
    assert other.exit_code == 2 and "no examples in th" in other.output, other.output
    chat = runner.invoke(app, [*args, "--skip-bad", "format=chat", f"out={tmp_path / 'c'}"])
    assert chat.exit_code == 2 and "no chat template" in chat.output


@pytest.mark.slow
def test_a_tokenizer_without_a_pad_token_is_handled(in_testbed, tmp_path):
    import shutil

    from transformers import AutoTokenizer

    base = tmp_path / "nopad"
    shutil.copytree(in_testbed / "base", base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(base)
    assert AutoTokenizer.from_pretrained(base).pad_token is None  # as many base models ship
    args = _recipe_args(in_testbed, tmp_path / "o", "eval=null")
    args[1] = f"base={base}"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["training"]["steps"] == 6


@pytest.mark.slow
def test_evaluation_every_n_steps_writes_a_curve(in_testbed, tmp_path):
    out = tmp_path / "every"
    result = runner.invoke(app, [*_recipe_args(in_testbed, out), "eval.every=2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "eval_curve.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [2, 4]  # the end (step 6) is the final eval
    assert set(rows[0]["testbed"]["sw"]) >= {"accuracy", "ci95"}
    assert not (out / "_evals").exists()


def test_every_recipe_runs_on_a_testbed_as_shipped(testbed, tmp_path, monkeypatch):
    """Each configs/train recipe, unchanged but for its length, on a testbed at runs/testbed
    (here the tiny one)."""
    from polyglot.resources import shipped_dir

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "testbed").symlink_to(testbed)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYGLOT_TESTBED_DIR", raising=False)
    for recipe in sorted((shipped_dir("configs") / "train").glob("*.yaml")):
        steps = "training.epochs=0.05" if "epochs" in recipe.read_text() else "training.steps=2"
        result = runner.invoke(
            app,
            ["train", "-c", str(recipe), steps, "eval=null", "--no-progress"],
        )
        assert result.exit_code == 0, (recipe.name, result.output)


@pytest.mark.slow
def test_a_killed_training_resumes_to_the_same_weights(in_testbed, tmp_path, kill_at_checkpoint):
    """A real kill (SIGKILL of the process) after a checkpoint; the rerun resumes from it and
    ends with the same adapter as an uninterrupted run."""
    from safetensors.torch import load_file

    def command(out: Path) -> list[str]:
        args = _recipe_args(
            in_testbed, out, "eval=null", "training.steps=24", "training.save_steps=4"
        )
        return [sys.executable, "-m", "polyglot", *args]

    env = {**os.environ, "POLYGLOT_TESTBED_DIR": str(in_testbed)}
    whole = tmp_path / "whole"
    subprocess.run(command(whole), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    kill_at_checkpoint(process, killed, 8, "training")
    assert not (killed / "summary.json").exists()
    resumed = subprocess.run(command(killed), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["training"]["resumed_from_step"] >= 8
    a = load_file(whole / "adapter_model.safetensors")
    b = load_file(killed / "adapter_model.safetensors")
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name


@pytest.mark.slow
def test_a_datasets_folder_and_a_built_dataset_are_sources(in_testbed, tmp_path):
    from datasets import Dataset

    rows = [json.loads(line) for line in (in_testbed / "world" / "train" / "sw.jsonl").open()][:8]
    records = [
        {
            "lang": "sw",
            "messages": [
                {"role": "user", "content": r["question"]},
                {"role": "assistant", "content": r["cot_native"]},
            ],
        }
        for r in rows
    ]
    Dataset.from_list(records).save_to_disk(str(tmp_path / "hf"))
    built = runner.invoke(
        app,
        ["data", "build", "-l", "th", "--schema", "native-cot", "--limit", "10",
         "--decontaminate", "", "--out", str(tmp_path / "built"), "--no-progress"],
    )  # fmt: skip
    assert built.exit_code == 0, built.output
    args = [
        "train",
        f"base={in_testbed}/base",
        f"data=[{{dataset: {tmp_path / 'hf'}, weight: 2}}, {{path: {tmp_path / 'built'}, weight: 0.5}}]",
        "training.steps=2",
        "eval=null",
        f"out={tmp_path / 'o'}",
        "--no-progress",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    sources = json.loads((tmp_path / "o" / "summary.json").read_text())["sources"]
    assert [s["used"] for s in sources] == [16, 5]  # weight 2: each twice; 0.5: half


@pytest.mark.slow
def test_two_processes_train_one_model_through_accelerate(in_testbed, tmp_path):
    """`accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2 -m
    polyglot train` (DDP over gloo on the CPU; NCCL on GPUs): the main process builds the data,
    writes and reports; the other waits for the data and trains its shard."""
    import shutil

    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("accelerate is not installed beside this Python")
    out = tmp_path / "ddp"
    build = "{source: testbed, languages: [sw], schema: english-cot, limit: 40, decontaminate: []}"
    config = Path(__file__).parents[2] / "configs" / "accelerate" / "ddp.yaml"
    command = [
        accelerate, "launch", "--config_file", str(config), "--num_processes", "2",
        "-m", "polyglot", "train",
        f"base={in_testbed}/base", f"data=[{{build: {build}}}]", "training.steps=4",
        "training.batch_size=2", "eval=null", f"out={out}", "--no-progress",
    ]  # fmt: skip
    env = {**os.environ, "POLYGLOT_TESTBED_DIR": str(in_testbed)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("training lora on") == 1  # one process speaks
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training"]["processes"] == 2 and summary["training"]["steps"] == 4
    assert (out / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_chat_format_trains_through_the_template_without_a_second_bos(in_testbed, tmp_path):
    import shutil

    from transformers import AutoTokenizer

    from polyglot.train.sources import load_examples

    base = tmp_path / "chat"
    shutil.copytree(in_testbed / "base", base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|> {{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tokenizer.save_pretrained(base)
    recipe = load_recipe(
        None,
        [f"base={base}", "format=chat", "eval=null", "training.steps=2", f"out={tmp_path / 'o'}",
         f"data=[{{path: {in_testbed}/world/train/sw.jsonl, response_field: cot_native, limit: 4}}]"],
    )  # fmt: skip
    chat_tokenizer = load_tokenizer(str(base), padding_side="right")
    examples, _ = load_examples(recipe, chat_tokenizer)
    prompt, response = examples[0]
    assert prompt.startswith("<s><|user|> ") and prompt.endswith("<|assistant|>")
    [row], _ = encode_examples(chat_tokenizer, [(prompt, response)])
    assert row["input_ids"][:2] != [chat_tokenizer.bos_token_id] * 2  # one BOS, the template's
    assert row["input_ids"][0] == chat_tokenizer.bos_token_id
    args = ["train", f"base={base}", "format=chat", "eval=null", "training.steps=2",
            f"data=[{{path: {in_testbed}/world/train/sw.jsonl, response_field: cot_native, limit: 4}}]",
            f"out={tmp_path / 'o'}", "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def test_bad_recipes_are_named_before_training(in_testbed, tmp_path):
    base = ["train", f"base={in_testbed}/base", "eval=null", "training.steps=2", "--no-progress"]
    data = (
        f"data=[{{path: {in_testbed}/world/train/sw.jsonl, response_field: cot_native, limit: 4}}]"
    )
    cases = {
        "lora.target_modules=[foo]": "does not fit",
        "training.max_length=8": "nothing to train on",
        f"data=[{{path: {in_testbed}/world/train/sw.jsonl, response_field: cot_native, limit: 1, weight: 0.2}}]": "is none",
        f"out={in_testbed}/base": "base model's folder",
    }
    for override, words in cases.items():
        args = [*base, data, f"out={tmp_path / 'x'}", override]
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and words in result.output, (override, result.output)
    # a failed run leaves the folder usable: the fixed recipe trains into it
    assert not (tmp_path / "x" / "recipe.yaml").exists()
    fixed = runner.invoke(app, [*base, data, f"out={tmp_path / 'x'}"])
    assert fixed.exit_code == 0, fixed.output
