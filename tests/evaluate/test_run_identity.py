"""Run identity: a run is reused only for the same model files, adapter, data and config.

A model rebuilt at the same path (a fine-tune, a layer-swap merge that keeps the embeddings)
must never get its old results back: its fingerprint hashes every weight byte.
"""

from __future__ import annotations

import json
import shutil
import struct

import pytest
from typer.testing import CliRunner

from polyglot import provenance
from polyglot.cli.main import app
from polyglot.provenance import fingerprint

runner = CliRunner()


def _change_one_tensor_in_place(weights, name_part: str) -> str:
    """Flip the bytes of the first element of the last tensor whose name has ``name_part``,
    without changing the file's size (safetensors: 8-byte header length, JSON header, data)."""
    data = bytearray(weights.read_bytes())
    header_len = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + header_len])
    name = sorted(k for k in header if name_part in k)[-1]
    start = 8 + header_len + header[name]["data_offsets"][0]
    data[start : start + 4] = bytes(b ^ 0xFF for b in data[start : start + 4])
    with weights.open("r+b") as handle:  # in place: same file, same size
        handle.write(data)
    return name


@pytest.fixture
def model(tiny_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model, copy)
    return copy


def _run(model, out, *extra):
    return runner.invoke(
        app,
        ["eval", "--model", str(model), "--benchmark", "mgsm", "--languages", "en,de"]
        + ["--limit", "2", "--max-new-tokens", "4", "--no-progress", "--out", str(out), *extra],
    )


def test_changing_one_tensor_of_the_last_layer_refuses_the_finished_run(model, tmp_path, mgsm):
    out = tmp_path / "run"
    assert _run(model, out).exit_code == 0
    assert "already complete" in " ".join(_run(model, out).output.split())  # reused
    layers = json.loads((model / "config.json").read_text())["num_hidden_layers"]
    _change_one_tensor_in_place(model / "model.safetensors", f"layers.{layers - 1}.")
    result = _run(model, out)
    assert result.exit_code == 2, result.output
    assert "holds a finished eval run that differs" in result.output
    assert "model files changed (fingerprint" in result.output and "--overwrite" in result.output
    assert _run(model, out, "--overwrite").exit_code == 0  # and --overwrite recomputes


def test_an_unfinished_run_of_other_weights_is_refused_too(model, tmp_path, mgsm):
    out = tmp_path / "run"
    assert _run(model, out).exit_code == 0
    lines = (out / "generations.jsonl").read_text().splitlines()
    (out / "generations.jsonl").write_text("\n".join(lines[:2]) + "\n")  # as if killed
    _change_one_tensor_in_place(model / "model.safetensors", "embed_tokens")
    result = _run(model, out)
    assert result.exit_code == 2
    assert "holds an unfinished eval run that differs" in result.output, result.output
    assert "model files changed" in result.output


def test_changed_adapter_weights_refuse_the_run(model, tmp_path, mgsm):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = tmp_path / "adapter"
    base = AutoModelForCausalLM.from_pretrained(model)
    lora = LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(adapter)
    out = tmp_path / "run"
    assert _run(model, out, "--adapter", str(adapter)).exit_code == 0
    _change_one_tensor_in_place(adapter / "adapter_model.safetensors", "lora_B")
    result = _run(model, out, "--adapter", str(adapter))
    assert result.exit_code == 2 and "adapter files changed" in result.output


def test_changed_benchmark_data_refuses_the_run(model, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for lang in ("en", "de"):
        rows = [{"question": f"{lang} question {i}?", "answer": str(i)} for i in range(3)]
        (data / f"{lang}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    args = ["--benchmark", "custom", "--data", str(data / "{lang}.jsonl")]
    assert _run(model, out, *args).exit_code == 0
    changed = (data / "de.jsonl").read_text().replace("1?", "one?")  # an item within --limit 2
    (data / "de.jsonl").write_text(changed)
    result = _run(model, out, *args)
    assert result.exit_code == 2 and "benchmark items or prompts changed" in result.output


def test_changed_few_shot_exemplars_refuse_the_run(model, tmp_path, shared_data):
    data = tmp_path / "mgsm"
    shutil.copytree(shared_data / "mgsm", data)
    out = tmp_path / "run"
    args = ["--data", str(data), "--shots", "2"]
    assert _run(model, out, *args).exit_code == 0
    exemplars = json.loads((data / "exemplars.json").read_text())
    first = exemplars["MGSM_EXEMPLARS"]["de"]["1"]
    first["a"] = first["a"].replace("5", "6")  # one digit of one German exemplar's reasoning
    (data / "exemplars.json").write_text(json.dumps(exemplars, ensure_ascii=False))
    result = _run(model, out, *args)
    assert result.exit_code == 2 and "benchmark items or prompts changed" in result.output


def test_fingerprint_hashes_every_byte_and_is_cached(model, monkeypatch):
    first = fingerprint(model)
    calls = []
    real = provenance.hash_file
    monkeypatch.setattr(provenance, "hash_file", lambda p: calls.append(p) or real(p))
    assert fingerprint(model) == first and calls == []  # from the cache: nothing read
    _change_one_tensor_in_place(model / "model.safetensors", "norm")
    changed = fingerprint(model)
    assert changed != first
    assert [p.name for p in calls] == ["model.safetensors"]  # only the changed file is re-read
    (model / "card.md").write_text("notes")  # files that do not decide outputs do not count
    assert fingerprint(model) == changed


def test_another_spelling_of_the_same_folder_is_the_same_run(model, tmp_path, mgsm, monkeypatch):
    out = tmp_path / "run"
    assert _run(model, out).exit_code == 0
    monkeypatch.chdir(model.parent)
    result = _run(f"./{model.name}/", out)
    assert result.exit_code == 0 and "already complete" in " ".join(result.output.split())


def test_an_unfinished_run_from_another_device_or_dtype_is_not_mixed(model, tmp_path, mgsm):
    out = tmp_path / "run"
    assert _run(model, out).exit_code == 0
    run = json.loads((out / "run.json").read_text())
    run["model"].update(device="cuda", dtype="bfloat16")  # as if started on a GPU
    (out / "run.json").write_text(json.dumps(run))
    lines = (out / "generations.jsonl").read_text().splitlines()
    (out / "generations.jsonl").write_text("\n".join(lines[:2]) + "\n")
    result = _run(model, out)
    assert result.exit_code == 2
    assert "device cuda -> cpu" in result.output and "dtype bfloat16 -> float32" in result.output
