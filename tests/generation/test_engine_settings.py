"""Engine settings: validated, refused where they do not apply, passed to ``vllm.LLM`` as given
(checked with a stand-in vLLM that logs what it is built with), and recorded in run.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.generation import GenerationSettings, load_backend
from polyglot.generation.engine import parse_engine_args, vllm_engine_kwargs

runner = CliRunner()


def _events(log: Path, event: str) -> list[dict]:
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [r for r in rows if r["event"] == event]


def _eval(model, out, *extra):
    return runner.invoke(app, ["eval", "--model", str(model), "--benchmark", "mgsm",
                               "--languages", "en,de", "--limit", "3", "--max-new-tokens", "16",
                               "--out", str(out), "--no-progress", *extra])  # fmt: skip


def test_settings_are_validated():
    with pytest.raises(ValueError, match="tensor_parallel_size, enforce_eager: vLLM engine"):
        GenerationSettings(model="m", tensor_parallel_size=2, enforce_eager=True)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        GenerationSettings(model="m", backend="vllm", data_parallel_size=0)
    with pytest.raises(ValueError, match="less than or equal to 1"):
        GenerationSettings(model="m", backend="vllm", gpu_memory_utilization=1.5)
    with pytest.raises(ValueError, match=r"engine_args.max_model_len: a polyglot setting; give "
                       r"max_model_len \(--max-model-len\)"):  # fmt: skip
        GenerationSettings(model="m", backend="vllm", engine_args={"max_model_len": 4})
    with pytest.raises(ValueError, match="engine_args.dtype: set by polyglot"):
        GenerationSettings(model="m", backend="vllm", engine_args={"dtype": "half"})
    # hf takes replicas and a shorter context
    GenerationSettings(model="m", data_parallel_size=2, max_model_len=128)


def test_engine_args_from_the_command_line():
    assert parse_engine_args(["max_num_seqs=64", "kv-cache-dtype=fp8", "x={a: 1}", "y=true"]) == {
        "max_num_seqs": 64, "kv_cache_dtype": "fp8", "x": {"a": 1}, "y": True}  # fmt: skip
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_engine_args(["max_num_seqs"])


def test_kwargs_reaching_vllm_LLM(fake_vllm, tiny_model, tmp_path):
    settings = GenerationSettings(
        model=str(tiny_model), backend="vllm", tensor_parallel_size=2, pipeline_parallel_size=2,
        gpu_memory_utilization=0.5, max_model_len=256, enforce_eager=True, max_new_tokens=64,
        engine_args={"max_num_seqs": 8, "kv_cache_dtype": "fp8"},
    )  # fmt: skip
    backend = load_backend(settings)
    (engine,) = _events(fake_vllm, "engine")  # dtype auto: as the hf backend (no CUDA: float32)
    assert engine["kwargs"] == {
        "revision": None, "dtype": "float32", "seed": 0, "enable_lora": False,
        "tensor_parallel_size": 2, "pipeline_parallel_size": 2, "gpu_memory_utilization": 0.5,
        "max_model_len": 256, "enforce_eager": True, "max_num_seqs": 8, "kv_cache_dtype": "fp8",
    }  # fmt: skip
    assert backend.describe()["context"] == 256 and backend.describe()["gpus"] == 4
    # the LoRA slot: as given, or the adapter's own rank when above vLLM's default of 16
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"r": 48}')
    with_adapter = settings.model_copy(update={"adapter": str(adapter)})
    assert vllm_engine_kwargs(with_adapter, lora=True)["max_lora_rank"] == 64
    # a per-module rank above r (peft's rank_pattern) is what the slot must hold
    (adapter / "adapter_config.json").write_text('{"r": 8, "rank_pattern": {"q_proj": 40}}')
    assert vllm_engine_kwargs(with_adapter, lora=True)["max_lora_rank"] == 64
    given = with_adapter.model_copy(update={"max_lora_rank": 128})
    assert vllm_engine_kwargs(given, lora=True)["max_lora_rank"] == 128
    with pytest.raises(ValueError, match="max_lora_rank sizes vLLM's adapter slots"):
        GenerationSettings(model="m", backend="vllm", max_lora_rank=32)
    # the defaults: only the parallel sizes, vLLM's own defaults for the rest
    assert vllm_engine_kwargs(GenerationSettings(model="m", backend="vllm"), lora=False) == {
        "tensor_parallel_size": 1, "pipeline_parallel_size": 1}  # fmt: skip


def test_unknown_engine_args_are_refused_with_vllms_list(fake_vllm, tiny_model, tmp_path):
    result = _eval(tiny_model, tmp_path / "run", "--backend", "vllm",
                   "--engine-arg", "max_num_seq=8")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert (
        "'max_num_seq' (did you mean 'max_num_seqs'?) not taken by vLLM 0.0.0+fake" in result.output
    )
    assert "kv_cache_dtype" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run" / "run.json").exists()
    # vLLM's own refusal (more GPUs than there are) is one line too
    result = _eval(tiny_model, tmp_path / "run", "--backend", "vllm", "--tp", "16")
    assert result.exit_code == 2 and "vLLM refused the engine" in result.output


def test_hf_refuses_vllm_settings(tiny_model, tmp_path):
    result = _eval(tiny_model, tmp_path / "run", "--tensor-parallel-size", "2")
    assert result.exit_code == 2
    assert "tensor_parallel_size: vLLM engine settings; the hf backend" in result.output


def test_a_vllm_eval_records_its_engine_and_resumes_by_it(fake_vllm, tiny_model, tmp_path):
    out = tmp_path / "run"
    result = _eval(tiny_model, out, "--backend", "vllm", "--tp", "2",
                   "--gpu-memory-utilization", "0.8", "--engine-arg", "max_num_seqs=8")  # fmt: skip
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["engine"] == {
        "tensor_parallel_size": 2, "pipeline_parallel_size": 1, "data_parallel_size": 1,
        "gpu_memory_utilization": 0.8, "max_model_len": None, "max_lora_rank": None,
        "enforce_eager": False, "engine_args": {"max_num_seqs": 8},
    }  # fmt: skip
    # the text-deciding ones are in the config compared on resume; memory is not
    assert run["config"]["tensor_parallel_size"] == 2
    assert run["config"]["engine_args"] == {"max_num_seqs": 8}
    assert "gpu_memory_utilization" not in run["config"]
    results = json.loads((out / "results.json").read_text())
    assert results["languages"]["en"]["n"] == 3
    again = _eval(tiny_model, out, "--backend", "vllm", "--tp", "2",
                  "--gpu-memory-utilization", "0.5", "--engine-arg", "max_num_seqs=8")  # fmt: skip
    assert again.exit_code == 0 and "nothing recomputed" in again.output
    other = _eval(tiny_model, out, "--backend", "vllm", "--tp", "4",
                  "--engine-arg", "max_num_seqs=8")  # fmt: skip
    assert other.exit_code == 2 and "tensor_parallel_size 2 -> 4" in other.output


def test_a_run_without_engine_settings_records_none_in_its_config(tiny_model, tmp_path, mgsm):
    """Runs made before the engine settings existed resume: defaults stay out of the config."""
    out = tmp_path / "run"
    assert _eval(tiny_model, out).exit_code == 0
    config = json.loads((out / "run.json").read_text())["config"]
    assert not {"tensor_parallel_size", "engine_args", "data_parallel_size"} & set(config)


def test_vllm_replicas_take_their_own_gpus(fake_vllm, tiny_model, tmp_path, monkeypatch, mgsm):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    one = _eval(tiny_model, tmp_path / "one", "--backend", "vllm", "--tp", "2")
    assert one.exit_code == 0, one.output
    fake_vllm.unlink()
    two = _eval(tiny_model, tmp_path / "two", "--backend", "vllm", "--tp", "2", "--dp", "2")
    assert two.exit_code == 0, two.output
    engines = _events(fake_vllm, "engine")
    assert sorted(e["visible"] for e in engines) == ["0,1", "2,3"]
    assert all(e["kwargs"]["tensor_parallel_size"] == 2 for e in engines)
    assert len({e["pid"] for e in engines}) == 2
    generated = {e["pid"] for e in _events(fake_vllm, "generate")}
    assert generated <= {e["pid"] for e in engines}
    lines = lambda out: sorted((out / "generations.jsonl").read_text().splitlines())  # noqa: E731
    # vLLM's chunks are split one per replica (a request's output does not depend on its chunk)
    strip = lambda rows: [{k: v for k, v in json.loads(r).items()  # noqa: E731
                           if k not in ("seconds", "batch")} for r in rows]  # fmt: skip
    assert sorted(map(json.dumps, strip(lines(tmp_path / "one")))) == sorted(
        map(json.dumps, strip(lines(tmp_path / "two")))
    )


def test_a_data_builds_teacher_takes_the_engine_settings(fake_vllm, in_testbed, tmp_path):
    source = tmp_path / "sw.jsonl"
    source.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Juma ana pipi {i}. "
                                          "Ana pipi ngapi?", "answer": i}) + "\n"
                              for i in range(3)))  # fmt: skip
    args = ["data", "build", "-l", "sw", "--source", str(source), "--schema", "mixed",
            "--teacher", str(in_testbed / "base"), "--backend", "vllm", "--max-new-tokens", "16",
            "--out", str(tmp_path / "t"), "--decontaminate", "", "--no-progress"]  # fmt: skip
    result = runner.invoke(app, [*args, "--tp", "2", "--engine-arg", "max_num_seqs=4"])
    assert result.exit_code in (0, 2), result.output  # the stand-in's answers may all be wrong
    (engine,) = _events(fake_vllm, "engine")
    assert engine["kwargs"]["tensor_parallel_size"] == 2
    assert engine["kwargs"]["max_num_seqs"] == 4
    cached = [json.loads(x) for x in (tmp_path / "t" / "teacher.jsonl").read_text().splitlines()]
    assert cached[0]["teacher"]["tensor_parallel_size"] == 2  # part of the cache's identity
    # a memory share changes no text: the cached samples are reused
    again = runner.invoke(app, [*args, "--tp", "2", "--engine-arg", "max_num_seqs=4",
                                "--gpu-memory-utilization", "0.5", "--overwrite"])  # fmt: skip
    assert again.exit_code in (0, 2), again.output
    assert len(_events(fake_vllm, "generate")) == 1
    # engine flags without a teacher are a clear error
    lone = runner.invoke(app, [*args[:8], *args[10:], "--tp", "2"])
    assert lone.exit_code == 2 and "give --teacher" in lone.output


def test_a_vllm_translator_spans_the_evaluated_engines_gpus(fake_vllm, tiny_model, tmp_path):
    result = _eval(tiny_model, tmp_path / "run", "--backend", "vllm", "--tp", "2",
                   "--gpu-memory-utilization", "0.4", "--strategy", "translate-all",
                   "--translator", f"vllm:{tiny_model}", "--temperature", "0.5")  # fmt: skip
    assert result.exit_code == 0, result.output
    engines = _events(fake_vllm, "engine")
    assert len(engines) == 2  # the evaluated model samples: a second engine translates
    assert all(e["kwargs"]["tensor_parallel_size"] == 2 for e in engines)
    assert all(e["kwargs"]["gpu_memory_utilization"] == 0.4 for e in engines)


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[2] / "configs" / "eval").glob("*.yaml"))
)
def test_every_shipped_eval_config_validates(path):
    import yaml

    from polyglot.config import load_yaml_model
    from polyglot.evaluate import EvalConfig

    config = load_yaml_model(path, EvalConfig)
    written = yaml.safe_load(path.read_text())
    # every engine setting the file writes is the one the run gets (none dropped or renamed)
    for key, value in config.engine().items():
        assert value == written.get(key, EvalConfig.model_fields[key].default), key


def test_a_trained_model_is_evaluated_with_the_recipes_engine(fake_vllm, in_testbed, tmp_path):
    out = tmp_path / "trained"
    build = "{source: testbed, languages: [sw], schema: english-cot, limit: 8, decontaminate: []}"
    result = runner.invoke(app, [
        "train", f"base={in_testbed}/base", f"data=[{{build: {build}}}]", "training.steps=2",
        "training.batch_size=2", f"out={out}", "--no-progress",
        "eval={benchmarks: [{name: testbed, languages: [sw], limit: 3}], max_new_tokens: 16, "
        "backend: vllm, tensor_parallel_size: 2, max_lora_rank: 32}",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    (engine,) = _events(fake_vllm, "engine")
    assert engine["kwargs"]["tensor_parallel_size"] == 2
    assert engine["kwargs"]["enable_lora"] and engine["kwargs"]["max_lora_rank"] == 32
    summary = json.loads((out / "summary.json").read_text())
    assert summary["eval_config"]["backend"] == "vllm"
    assert summary["eval"]["testbed"]["sw"]["n"] == 3


def test_hf_refuses_a_context_longer_than_the_models(tiny_model, tmp_path, mgsm):
    result = _eval(tiny_model, tmp_path / "run", "--max-model-len", "100000")
    assert result.exit_code == 2 and "max_model_len 100000 is longer than the model" in (
        " ".join(result.output.split())
    )
