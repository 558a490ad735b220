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


def _with_backend(name: str, backend_class: str) -> str:
    """A ``python -c`` program: ``polyglot`` with a backend of this module registered (the
    replicas it starts import it by that path)."""
    from pathlib import Path

    here = Path(__file__).parent
    return (
        f"import sys; sys.path.insert(0, {str(here)!r})\n"
        "from polyglot.generation import register_backend\n"
        f"register_backend({name!r}, 'test_replicas:{backend_class}')\n"
        "from polyglot.cli.main import app\n"
        "app(sys.argv[1:])\n"
    )


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


class DyingBackend:
    """A backend whose process ends abruptly on its second batch (a replica killed by the
    OOM killer, say); its outputs are long, so unread messages fill the pipes."""

    name = "dying"

    def __init__(self, settings):
        self.settings = settings

    def describe(self) -> dict:
        return {"model": self.settings.model, "backend": "dying", "device": "cpu"}

    def batches(self, requests):
        ordered = sorted(requests, key=lambda r: r.key)
        return [ordered[i : i + 2] for i in range(0, len(ordered), 2)]

    def generate(self, batches):
        import os

        from polyglot.generation import Generation

        for index, batch in batches:
            if index == 1:
                os._exit(7)
            yield [Generation(r.key, ["x" * 100_000 + " 3"], [1], 0.0, index) for r in batch]


def test_every_replica_gets_batches_and_stops_when_done(tiny_model):
    import multiprocessing

    from polyglot.generation import Request, load_backend

    backend = load_backend(GenerationSettings(model=str(tiny_model), max_new_tokens=4,
                                              batch_size=2, data_parallel_size=2, device="cpu"))  # fmt: skip
    requests = [Request(f"k{i}", f"Question: {i} plus {i}?", ["\n\n"]) for i in range(8)]
    batches = backend.batches(requests)
    done = [g.key for b in backend.generate(list(enumerate(batches))) for g in b]
    assert sorted(done) == sorted(r.key for r in requests)
    assert all(count > 0 for count in backend.ran.values()), backend.ran
    backend.close()
    backend.close()  # twice is fine
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("polyglot-")]


def test_an_eval_stops_its_replicas_when_it_ends(one_process, tiny_model, tmp_path):
    import multiprocessing

    result = runner.invoke(app, _args(tiny_model, tmp_path / "r", "--dp", "2"))
    assert result.exit_code == 0, result.output
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("polyglot-")]


def test_a_replica_that_dies_ends_the_run_with_one_line(tiny_model, tmp_path, mgsm):
    """No hang (pipes full of unread output), no traceback; a rerun would resume."""
    import subprocess
    import sys

    script = _with_backend("dying", "DyingBackend")
    command = [sys.executable, "-c", script, *_args(tiny_model, tmp_path / "d", "--backend",
                                                     "dying", "--dp", "2")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stdout + result.stderr
    assert "stopped (exit code 7" in message and "Traceback" not in message
    written = read_records(tmp_path / "d" / "generations.jsonl")
    assert 0 < len(written) < 12  # what finished is kept: the same command resumes


class SlowBackend(DyingBackend):
    """Long outputs, slowly: the main process is killed while replicas are mid-batch."""

    def generate(self, batches):
        import time

        from polyglot.generation import Generation

        for index, batch in batches:
            time.sleep(1.5)
            yield [Generation(r.key, ["x" * 100_000 + " 3"], [1], 0.0, index) for r in batch]


def test_replicas_end_when_the_main_process_is_killed(tiny_model, tmp_path, mgsm):
    """SIGKILL of the main process alone (the OOM killer): its replicas go too (a watchdog),
    even blocked on a pipe nobody reads, so they never keep their GPUs."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = _with_backend("slow", "SlowBackend")
    out = tmp_path / "k"
    command = [sys.executable, "-c", script, *_args(tiny_model, out, "--backend", "slow",
                                                     "--dp", "2")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def children() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == str(process.pid):
                found.append(int(entry.name))
        return found

    deadline = time.time() + 120
    generations = out / "generations.jsonl"
    while time.time() < deadline and not (generations.exists() and generations.stat().st_size):
        time.sleep(0.1)
    replicas = children()
    assert len(replicas) >= 2
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.time() + 15
    alive = replicas
    while alive and time.time() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in replicas if Path(f"/proc/{pid}").exists()
                 and "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3])]  # fmt: skip
    assert not alive, f"replicas {alive} outlived the main process"


class DyingMidMessage(DyingBackend):
    """Dies half-way through sending a large batch (megabytes of output, as a vLLM chunk)."""

    def generate(self, batches):
        import os
        import threading

        from polyglot.generation import Generation

        for index, batch in batches:
            if index == 1:
                threading.Timer(0.05, lambda: os._exit(7)).start()  # while the send is under way
            yield [Generation(r.key, ["x" * 4_000_000 + " 3"], [1], 0.0, index) for r in batch]


def test_a_replica_dying_mid_message_ends_the_run_too(tiny_model, tmp_path, mgsm):
    import subprocess
    import sys

    script = _with_backend("mid", "DyingMidMessage")
    command = [sys.executable, "-c", script, *_args(tiny_model, tmp_path / "m", "--backend",
                                                     "mid", "--dp", "2")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "stopped (exit code 7" in result.stdout + result.stderr


def test_a_closed_backend_is_loaded_again_by_the_next_run(one_process, tiny_model, tmp_path):
    """A run stopped half-way closes its replicas; the shared backends dict reloads them."""
    from polyglot.evaluate import EvalConfig, evaluate

    config = EvalConfig(model=str(tiny_model), benchmark="mgsm", languages=["en"], limit=4,
                        max_new_tokens=8, batch_size=2, data_parallel_size=2, device="cpu",
                        out=str(tmp_path / "a"), progress=False)  # fmt: skip
    backends: dict = {}
    evaluate(config, backends)
    (backend,) = backends.values()
    backend.close()
    again = evaluate(config.model_copy(update={"out": str(tmp_path / "b")}), backends)
    assert again.generated == 4 and not next(iter(backends.values())).closed


def test_replicas_only_on_cuda_or_the_cpu():
    with pytest.raises(ConfigError, match="replicas run on CUDA GPUs or the CPU"):
        plan_replicas(GenerationSettings(model="m", data_parallel_size=2, device="mps"), [], 8)
    with pytest.raises(ConfigError, match="no CUDA GPU is visible"):
        plan_replicas(GenerationSettings(model="m", data_parallel_size=2, device="cuda"), [], 8)


def test_ctrl_c_stops_a_run_with_replicas_at_once(tiny_model, tmp_path, mgsm):
    """SIGINT to the main process while replicas hold batches: it ends within seconds (busy
    replicas are terminated, not waited for), and no replica is left."""
    import signal
    import subprocess
    import sys
    import time

    script = _with_backend("slow", "SlowBackend")
    out = tmp_path / "i"
    command = [sys.executable, "-c", script, *_args(tiny_model, out, "--backend", "slow",
                                                     "--dp", "2")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    generations = out / "generations.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (generations.exists() and generations.stat().st_size):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    started = time.time()
    process.communicate(timeout=30)
    assert time.time() - started < 8, "Ctrl-C waited for the replicas' batches"
    assert process.returncode != 0
    written = read_records(generations)
    assert 0 < len(written) < 12


def test_vllm_replicas_on_the_cpu_only_with_its_cpu_build(monkeypatch):
    """No GPU: vLLM's CPU build runs a replica per core group (threads bound to its own cores);
    a GPU build of vLLM is refused in one line, before any replica starts."""
    from polyglot.generation import replicas

    settings = GenerationSettings(model="m", backend="vllm", data_parallel_size=2)
    monkeypatch.setattr(replicas, "vllm_cpu_build", lambda: True)
    monkeypatch.setattr(replicas, "_cpu_cores", lambda: [0, 1, 2, 3])
    plans = plan_replicas(settings, [], threads=4)
    assert [p["cpus"] for p in plans] == ["0,1", "2,3"] and all(not p["gpus"] for p in plans)
    monkeypatch.setattr(replicas, "vllm_cpu_build", lambda: False)
    with pytest.raises(ConfigError, match="needs GPUs"):
        plan_replicas(settings, [], threads=4)
