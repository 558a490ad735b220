"""Data parallelism: replicas in processes of their own give the run one process gives."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.evaluate.records import read_records
from polyglot.generation import GenerationSettings
from polyglot.generation.replicas import plan_replicas

runner = CliRunner()


def _args(model, out, *extra) -> list[str]:
    return ["eval", "--model", str(model), "--benchmark", "mgsm", "--languages", "en,de,th",
            "--limit", "4", "--max-new-tokens", "16", "--batch-size", "2", "--out", str(out),
            "--no-progress", *extra]  # fmt: skip


def _records(out) -> dict[str, dict]:
    timing = ("seconds",)
    return {
        key: {k: v for k, v in record.items() if k not in timing}
        for key, record in read_records(out / "generations.jsonl").items()
    }


@pytest.fixture(scope="module")
def one_process(tiny_model, mgsm, tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of two replicas on two cores
    try:
        out = tmp_path_factory.mktemp("dp") / "one"
        result = runner.invoke(app, _args(tiny_model, out))
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return out


def test_two_cpu_replicas_give_the_one_process_run(one_process, tiny_model, tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # two replicas of one thread each
    try:
        out = tmp_path / "two"
        result = runner.invoke(app, _args(tiny_model, out, "--data-parallel-size", "2"))
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    assert _records(out) == _records(one_process)
    single = json.loads((one_process / "results.json").read_text())
    both = json.loads((out / "results.json").read_text())
    for lang, row in single["languages"].items():
        assert {k: v for k, v in both["languages"][lang].items() if k != "items_per_second"} == {
            k: v for k, v in row.items() if k != "items_per_second"
        }
    run = json.loads((out / "run.json").read_text())
    assert run["engine"]["data_parallel_size"] == 2
    assert run["model"]["replicas"] == 2
    assert "data_parallel_size" not in run["config"]  # speed, not the text: resumable


def test_a_run_half_done_by_one_process_is_finished_by_replicas(one_process, tiny_model, tmp_path):
    out = tmp_path / "resumed"
    out.mkdir()
    (out / "run.json").write_text((one_process / "run.json").read_text())
    lines = (one_process / "generations.jsonl").read_text().splitlines(keepends=True)
    (out / "generations.jsonl").write_text("".join(lines[:5]))
    result = runner.invoke(app, _args(tiny_model, out, "--data-parallel-size", "2"))
    assert result.exit_code == 0, result.output
    assert _records(out) == _records(one_process)


def test_a_replica_that_cannot_load_is_one_clear_error(tmp_path, mgsm):
    missing = tmp_path / "no-model"
    result = runner.invoke(app, _args(missing, tmp_path / "out", "--data-parallel-size", "2"))
    assert result.exit_code == 2
    assert "no-model" in result.output and "Traceback" not in result.output


def test_replica_plans():
    cpu = GenerationSettings(model="m", data_parallel_size=2, device="cpu")
    assert plan_replicas(cpu, ["0"], threads=8) == [{"gpus": [], "threads": 4}] * 2
    gpus = ["0", "1", "2", "3"]
    tp = GenerationSettings(model="m", backend="vllm", data_parallel_size=2, tensor_parallel_size=2)
    assert [p["gpus"] for p in plan_replicas(tp, gpus, 8)] == [["0", "1"], ["2", "3"]]
    hf = GenerationSettings(model="m", data_parallel_size=3)
    assert [p["gpus"] for p in plan_replicas(hf, ["0", "1"], 8)] == [["0"], ["1"], ["0"]]
    with pytest.raises(ConfigError, match="gpu-memory-utilization 0.45"):
        plan_replicas(GenerationSettings(model="m", backend="vllm", data_parallel_size=2),
                      ["0"], 8)  # fmt: skip
    shared = GenerationSettings(model="m", backend="vllm", data_parallel_size=2,
                                gpu_memory_utilization=0.4)  # fmt: skip
    assert [p["gpus"] for p in plan_replicas(shared, ["0"], 8)] == [["0"], ["0"]]
    with pytest.raises(ConfigError, match="4 GPUs per replica; 2 visible"):
        plan_replicas(GenerationSettings(model="m", backend="vllm", data_parallel_size=2,
                                         tensor_parallel_size=4), ["0", "1"], 8)  # fmt: skip
    with pytest.raises(ConfigError, match="own GPUs in order"):
        plan_replicas(GenerationSettings(model="m", data_parallel_size=2, device="cuda:1"),
                      ["0", "1"], 8)  # fmt: skip
