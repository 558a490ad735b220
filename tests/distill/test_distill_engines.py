"""Distillation's generation engines: the teacher's answers through the vLLM backend with the
recipe's engine settings, the on-policy samples through TRL's colocated vLLM engine (both
checked with stand-ins: no vLLM on CPU machines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# imported while vLLM is absent (as on this machine): the stand-in vLLM of some tests below
# lacks the modules TRL's vLLM client would import
import trl.generation.vllm_generation as trl_vllm
from typer.testing import CliRunner

from polyglot.cli.main import app

runner = CliRunner()


@pytest.fixture()
def in_shipped(shipped_testbed, monkeypatch):
    monkeypatch.setenv("POLYGLOT_TESTBED_DIR", str(shipped_testbed))
    return shipped_testbed


def _distill(testbed: Path, out: Path, *extra: str):
    return runner.invoke(
        app,
        ["distill", "--teacher", str(testbed / "base"), "--student", str(testbed / "base"),
         "-l", "sw", "--limit", "8", "--steps", "4", "--out", str(out), "training.batch_size=4",
         "eval=null", "--no-progress", *extra],
    )  # fmt: skip


class FakeVLLMGeneration:
    """Stands in for ``trl.generation.vllm_generation.VLLMGeneration``: records how it is built
    and used, samples "the answer is 7" plus EOS for every prompt."""

    built: list[dict] = []
    synced = 0
    prompts: list[list[int]] = []

    def __init__(self, **kwargs):
        FakeVLLMGeneration.built.append(kwargs)
        self.tokenizer = kwargs["processing_class"]

    def sync_weights(self):
        FakeVLLMGeneration.synced += 1

    def generate(self, prompts, images, num_generations):
        FakeVLLMGeneration.prompts.extend(prompts)
        sample = self.tokenizer("The answer is 7.", add_special_tokens=False).input_ids
        completions = [sample + [self.tokenizer.eos_token_id] for _ in prompts]
        return prompts, completions, None, None


def test_on_policy_samples_come_from_trls_colocated_vllm(
    in_shipped, tmp_path, monkeypatch, fake_vllm
):
    FakeVLLMGeneration.built, FakeVLLMGeneration.synced, FakeVLLMGeneration.prompts = [], 0, []
    monkeypatch.setattr(trl_vllm, "VLLMGeneration", FakeVLLMGeneration)
    out = tmp_path / "d"
    result = _distill(in_shipped, out, "--on-policy", "1", "on_policy_max_new_tokens=24",
                      "generation.backend=vllm", "generation.gpu_memory_utilization=0.25",
                      "generation.max_model_len=512")  # fmt: skip
    assert result.exit_code == 0, result.output
    (built,) = FakeVLLMGeneration.built  # one engine for the run
    assert built["mode"] == "colocate" and built["tensor_parallel_size"] == 1
    assert built["gpu_memory_utilization"] == 0.25 and built["max_model_length"] == 512
    assert built["max_completion_length"] == 24
    assert (built["temperature"], built["top_p"], built["top_k"]) == (1.0, 1.0, 0)
    assert FakeVLLMGeneration.synced == 4  # every on-policy step samples from its own weights
    assert len(FakeVLLMGeneration.prompts) == 4 * 4
    card = json.loads((out / "card.json").read_text())
    assert "generation" in json.dumps(card)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--on-policy", "0.5", "generation.backend=vllm", "generation.pipeline_parallel_size=2"],
         "generation.pipeline_parallel_size: on-policy samples come from TRL"),
        (["--on-policy", "0.5", "generation.max_model_len=64"],
         "the hf on-policy samples take no engine settings"),
        (["generation.backend=vllm"], "generation: nothing is generated"),
        (["--on-policy", "0.5", "generation.backend=vllm"], "on-policy samples through vLLM need "
         "vLLM"),
    ],
)  # fmt: skip
def test_generation_settings_that_would_do_nothing_are_refused(in_testbed, tmp_path, extra,
                                                               message):  # fmt: skip
    result = _distill(in_testbed, tmp_path / "bad", *extra)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output


def test_on_policy_vllm_tensor_parallel_must_divide_the_processes(in_testbed, tmp_path,
                                                                  fake_vllm):  # fmt: skip
    result = _distill(in_testbed, tmp_path / "bad", "--on-policy", "0.5",
                      "generation.backend=vllm", "generation.tensor_parallel_size=2")  # fmt: skip
    assert result.exit_code == 2
    assert "tensor_parallel_size 2 must divide the 1 training process" in result.output


def test_the_teachers_answers_use_the_recipes_engine(in_shipped, tmp_path, fake_vllm):
    out = tmp_path / "seq"
    result = _distill(in_shipped, out, "--level", "sequence", "--response-field", "null",
                      "sequence.keep=all", "generation.backend=vllm",
                      "generation.tensor_parallel_size=2", "generation.max_model_len=384",
                      "generation.engine_args={max_num_seqs: 16}")  # fmt: skip
    assert result.exit_code == 0, result.output
    engines = [json.loads(x) for x in fake_vllm.read_text().splitlines()]
    engine = next(e for e in engines if e["event"] == "engine")
    assert engine["kwargs"]["tensor_parallel_size"] == 2
    assert engine["kwargs"]["max_model_len"] == 384
    assert engine["kwargs"]["max_num_seqs"] == 16
    run = json.loads((out / "_teacher" / "run.json").read_text())
    assert run["engine"]["tensor_parallel_size"] == 2 and run["model"]["backend"] == "vllm"
