"""``polyglot distill`` on the tiny testbed: the cross-lingual pairs align on exactly the
response tokens, the top-k cache round-trips, the same-prompt loss equals TRL's GKD loss, the
tokenizers are checked, bad data is refused by name, and a run lowers the student's divergence
to the teacher end to end (and resumes after a real kill)."""

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
from polyglot.config import ConfigError
from polyglot.distill.pairs import (
    check_vocabularies,
    encode_pairs,
    load_parallel,
    make_pairs,
    response_positions,
)
from polyglot.distill.recipe import ParallelData, load_distill_recipe
from polyglot.models import load_model, load_tokenizer

runner = CliRunner()


@pytest.fixture()
def in_shipped(shipped_testbed, monkeypatch):
    """The shipped graded base (it reads English far better than Swahili) as the testbed."""
    monkeypatch.setenv("POLYGLOT_TESTBED_DIR", str(shipped_testbed))
    return shipped_testbed


@pytest.fixture()
def parts(in_testbed):
    data = ParallelData(languages=["sw"], limit=6)
    dataset = load_parallel(data)
    responses = {i: f"Step {n}. The answer is {n}." for n, i in enumerate(dataset.ids)}
    pairs = make_pairs(dataset, responses, data, "native-cot")
    tokenizer = load_tokenizer(str(in_testbed / "base"), padding_side="right")
    return dataset, pairs, tokenizer


def test_pairs_align_on_exactly_the_response_tokens(parts):
    from polyglot.distill.batches import DistillCollator

    dataset, pairs, tokenizer = parts
    assert pairs[0].teacher_prompt != pairs[0].student_prompt  # English vs Swahili
    assert pairs[0].teacher_prompt.startswith("Question:")
    columns, cut = encode_pairs(tokenizer, pairs, 512)
    assert cut == 0 and columns["index"] == list(range(len(pairs)))
    batch = DistillCollator(tokenizer.pad_token_id)([
        {k: columns[k][i] for k in columns} for i in range(len(pairs))
    ])  # fmt: skip
    for i, pair in enumerate(pairs):
        response = tokenizer(pair.response, add_special_tokens=False).input_ids
        expected = [*response, tokenizer.eos_token_id]
        for side in ("student", "teacher"):
            ids, labels = batch[f"{side}_ids"][i : i + 1], batch[f"{side}_labels"][i : i + 1]
            positions = response_positions(labels)[0]
            # the logits at these positions predict exactly the response tokens, nothing else
            assert ids[0, 1:][positions].tolist() == expected
            assert int(positions.sum()) == len(expected)


def test_the_response_is_cut_to_fit_in_both_sequences(parts):
    _, pairs, tokenizer = parts
    longest_prompt = 1 + max(
        len(tokenizer(text, add_special_tokens=False).input_ids)
        for p in pairs
        for text in (p.teacher_prompt, p.student_prompt)
    )
    limit = longest_prompt + 2
    columns, cut = encode_pairs(tokenizer, pairs, limit)
    assert cut == len(pairs)  # every response cut to fit
    for s_labels, t_labels in zip(columns["student_labels"], columns["teacher_labels"],
                                  strict=True):  # fmt: skip
        kept = [x for x in s_labels if x != -100]
        assert kept == [x for x in t_labels if x != -100] and len(kept) + 0 >= 2
        assert len(s_labels) <= limit and len(t_labels) <= limit


def test_the_top_k_cache_round_trips(parts, in_testbed, tmp_path):
    from polyglot.distill.divergence import teacher_topk
    from polyglot.distill.teacher_cache import build_cache

    _, pairs, tokenizer = parts
    teacher = load_model(str(in_testbed / "base"), device="cpu", dtype="float32")
    columns, _ = encode_pairs(tokenizer, pairs, 512)
    vocab = teacher.config.vocab_size
    args = dict(k=5, temperature=2.0, vocab=vocab, pad_id=tokenizer.pad_token_id,
                folder=tmp_path / "cache", identity={"t": 1}, log=lambda m: None)  # fmt: skip
    built = build_cache(teacher, columns, **args)
    messages = []
    reread = build_cache(teacher, columns, **{**args, "log": messages.append})
    assert messages and "reusing" in messages[0]
    for row in (2, 0):
        ids = torch.tensor([columns["teacher_ids"][row]])
        with torch.no_grad():
            logits = teacher(input_ids=ids).logits[0, :-1]
        positions = response_positions(torch.tensor([columns["teacher_labels"][row]]))[0]
        values, indices = teacher_topk(logits[positions], 5, temperature=2.0)
        for cache in (built, reread):
            got_values, got_indices = cache.lookup([row], "cpu")
            assert torch.equal(got_indices, indices.to(torch.int32))
            assert torch.allclose(got_values, values, atol=1e-5)
    # another k is not this cache: recomputed
    other = build_cache(teacher, columns, **{**args, "k": 3})
    assert other.values.shape[1] == 3


def test_the_same_prompt_loss_equals_trls_gkd_loss(parts, in_testbed, tiny_model, tmp_path):
    gkd = pytest.importorskip("trl.experimental.gkd.gkd_trainer", reason="TRL not installed")
    from transformers import TrainingArguments

    from polyglot.distill.batches import DistillCollator
    from polyglot.distill.recipe import DistillRecipe
    from polyglot.distill.trainer import DistillConfig, DistillTrainer

    dataset, _, tokenizer = parts
    data = ParallelData(languages=["sw"], limit=6)
    responses = {i: "The answer is 4." for i in dataset.ids}
    pairs = make_pairs(dataset, responses, data, "native-cot", same_prompt=True)
    assert pairs[0].teacher_prompt == pairs[0].student_prompt
    columns, _ = encode_pairs(tokenizer, pairs, 512)
    batch = DistillCollator(tokenizer.pad_token_id)([
        {k: columns[k][i] for k in columns} for i in range(4)
    ])  # fmt: skip
    student = load_model(str(in_testbed / "base"), device="cpu", dtype="float32")
    teacher = load_model(str(in_testbed / "base"), device="cpu", dtype="float32")
    with torch.no_grad():  # another teacher: perturbed weights
        for parameter in teacher.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    for beta in (0.0, 0.5, 1.0):
        kind = "forward-kl" if beta == 0 else "reverse-kl" if beta == 1 else "jsd"
        settings = DistillRecipe(teacher="t", student="s", data=data, divergence=kind, beta=beta,
                                 same_prompt=True)  # fmt: skip
        trainer = DistillTrainer(
            model=student,
            args=TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True),
            teacher=teacher, settings=DistillConfig.from_recipe(settings), vocab=student.config.vocab_size,
            pad_id=tokenizer.pad_token_id, eos_id=tokenizer.eos_token_id,
        )  # fmt: skip
        with torch.no_grad():
            ours = trainer.compute_loss(student, batch)
            s_logits = student(input_ids=batch["student_ids"],
                               attention_mask=batch["student_mask"]).logits  # fmt: skip
            t_logits = teacher(input_ids=batch["student_ids"],
                               attention_mask=batch["student_mask"]).logits  # fmt: skip
        theirs = gkd.GKDTrainer.generalized_jsd_loss(
            s_logits[:, :-1], t_logits[:, :-1], labels=batch["student_labels"][:, 1:], beta=beta
        )
        assert ours.item() == pytest.approx(theirs.item(), rel=1e-5), beta
        assert ours.item() > 0


def test_different_tokenizers_are_refused_and_padded_vocabularies_cut(in_testbed, tiny_model):
    testbed = load_tokenizer(str(in_testbed / "base"))
    other = load_tokenizer(str(tiny_model))
    with pytest.raises(ConfigError, match="tokenizers differ.*level: sequence"):
        check_vocabularies(testbed, other, 100, 100)
    real = len(testbed.get_vocab())
    assert check_vocabularies(testbed, testbed, real, real) == real
    assert check_vocabularies(testbed, testbed, real + 64, real) == real  # padded teacher
    with pytest.raises(ConfigError, match="fewer logits"):
        check_vocabularies(testbed, testbed, real - 1, real - 1 + 2)


def test_bad_parallel_data_is_named(in_testbed, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rows = [{"id": str(i), "question": f"q{i}", "answer": i, "cot": "x"} for i in range(4)]
    (folder / "en.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ConfigError, match="no 'sw' file"):
        load_parallel(ParallelData(path=f"{folder}/{{lang}}.jsonl", languages=["sw"]))
    (folder / "sw.jsonl").write_text("\n".join(json.dumps(r) for r in rows[:3]))
    with pytest.raises(ConfigError, match="not aligned"):
        load_parallel(ParallelData(path=f"{folder}/{{lang}}.jsonl", languages=["sw"]))


def _distill(testbed: Path, out: Path, *extra: str):
    return runner.invoke(
        app,
        ["distill", "--teacher", str(testbed / "base"), "--student", str(testbed / "base"),
         "-l", "sw", "--limit", "16", "--steps", "8", "--out", str(out), "training.batch_size=4",
         "training.learning_rate=0.001", "eval.benchmarks=[{name: testbed, languages: [sw], "
         "limit: 3}]", "eval.max_new_tokens=16", "--no-progress", *extra],
    )  # fmt: skip


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--divergence", "jsd", "--teacher-logits", "topk", "--top-k", "8", "--temperature", "2"],
        ["--divergence", "reverse-kl", "--on-policy", "0.5", "--ce-weight", "0.2"],
        ["--method", "lora", "training.learning_rate=0.005"],
    ],
)
def test_a_run_lowers_the_students_divergence_to_the_teacher(in_shipped, tmp_path, extra):
    """The graded base reading Swahili learns its own English reading (self-distillation)."""
    out = tmp_path / "d"
    result = _distill(in_shipped, out, *extra)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    training = summary["training"]
    assert training["divergence_after"] < training["divergence_before"]
    curve = [json.loads(x) for x in (out / "curve.jsonl").read_text().splitlines()]
    assert {"loss", "divergence", "ce"} <= set(curve[0])
    assert (out / "curve.html").is_file() and (out / "eval" / "testbed" / "results.json").is_file()
    weights = "adapter_model.safetensors" if "lora" in extra else "model.safetensors"
    assert (out / weights).is_file() and (out / "card.md").is_file()
    if "topk" in extra:
        assert (out / "_teacher_topk" / "topk.safetensors").is_file()
    again = _distill(in_shipped, out, *extra)  # the same recipe: reused
    assert again.exit_code == 0 and "reusing" in again.output


def test_sequence_level_learns_the_teachers_right_answers(in_shipped, tmp_path):
    out = tmp_path / "seq"
    result = _distill(in_shipped, out, "--level", "sequence", "--response-field", "null")
    assert result.exit_code == 0, result.output
    teacher = [
        json.loads(x) for x in (out / "_teacher" / "generations.jsonl").read_text().splitlines()
    ]
    assert {r["lang"] for r in teacher} == {"en"} and len(teacher) == 16
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pairs"] == sum(r["correct"] for r in teacher)
    assert summary["responses"] == "teacher"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--level", "sequence", "--on-policy", "0.5"], "token-level settings"),
        (["--level", "sequence", "--temperature", "2"], "token-level settings"),
        (["--on-policy", "0.5", "--teacher-logits", "topk"], "on-policy samples are new"),
        (["-l", "en"], "is the teacher's language"),
        (["--divergence", "kl"], "divergence"),
        (["--benchmark", "mgsm", "--data", "x/{lang}.jsonl"], "not both"),
    ],
)
def test_bad_settings_are_one_line(in_testbed, tmp_path, extra, message):
    result = _distill(in_testbed, tmp_path / "bad", *extra)
    assert result.exit_code == 2 and message in result.output, result.output


def test_benchmark_flag_is_the_recipes_data_benchmark(in_testbed, tmp_path, monkeypatch):
    import polyglot.cli.distill as command

    made = []
    monkeypatch.setattr(command, "distill", lambda recipe, **_: made.append(recipe) or {"rank": 1})
    assert _distill(in_testbed, tmp_path / "m", "--benchmark", "mgsm").exit_code == 0
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"teacher: {in_testbed}/base\nstudent: {in_testbed}/base\nout: {tmp_path / 'm'}\n"
                      "data: {languages: [sw], benchmark: mgsm, response_field: null, limit: 16}\n")  # fmt: skip
    from_recipe = load_distill_recipe(recipe, [])
    assert made[0].data == from_recipe.data


def test_a_recipe_file_with_overrides(in_testbed, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"teacher: {in_testbed}/base\nstudent: {in_testbed}/base\n"
                      "data: {languages: [sw]}\nlevel: token\n")  # fmt: skip
    loaded = load_distill_recipe(recipe, ["beta=0.2", "divergence=jsd", "data.limit=4"])
    assert (loaded.beta, loaded.divergence, loaded.data.limit) == (0.2, "jsd", 4)
    with pytest.raises(ConfigError, match="tempreature"):
        load_distill_recipe(recipe, ["tempreature=2"])


@pytest.mark.slow
def test_a_killed_distillation_resumes_to_the_same_weights(
    in_testbed, tmp_path, kill_at_checkpoint
):
    from safetensors.torch import load_file

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "polyglot", "distill", "--teacher", f"{in_testbed}/base",
                "--student", f"{in_testbed}/base", "-l", "sw", "--limit", "16", "--steps", "24",
                "training.save_steps=4", "training.batch_size=4", "--on-policy", "0.3", "eval=null",
                "--out", str(out), "--no-progress"]  # fmt: skip

    env = {**os.environ, "POLYGLOT_TESTBED_DIR": str(in_testbed)}
    whole = tmp_path / "whole"
    subprocess.run(command(whole), check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    process = subprocess.Popen(command(killed), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    kill_at_checkpoint(process, killed, 8, "distillation")
    resumed = subprocess.run(command(killed), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["training"]["resumed_from_step"] >= 8
    a, b = load_file(whole / "model.safetensors"), load_file(killed / "model.safetensors")
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name


def test_every_recipe_runs_on_a_testbed_as_shipped(shipped_testbed, tmp_path, monkeypatch):
    """Each configs/distill recipe, unchanged but for its length, on the testbed at runs/testbed
    (the graded base, whose English answers the sequence-level recipe keeps)."""
    from polyglot.resources import shipped_dir

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "testbed").symlink_to(shipped_testbed)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYGLOT_TESTBED_DIR", raising=False)
    recipes = sorted((shipped_dir("configs") / "distill").glob("*.yaml"))
    assert len(recipes) >= 3
    for recipe in recipes:
        result = runner.invoke(
            app,
            ["distill", "-c", str(recipe), "training.steps=2", "data.limit=8", "eval=null",
             "on_policy_max_new_tokens=16", "sequence.max_new_tokens=96", "--no-progress"],
        )  # fmt: skip
        assert result.exit_code == 0, (recipe.name, result.output)


def test_a_smaller_student_of_another_model_learns_from_the_teacher(in_shipped, tmp_path):
    """Two different models sharing a tokenizer: the graded base teaches a 3-layer cut of it."""
    base = load_model(str(in_shipped / "base"), device="cpu", dtype="float32")
    base.model.layers = base.model.layers[:3]
    base.config.num_hidden_layers = 3
    base.config.layer_types = None
    small = tmp_path / "small"
    base.save_pretrained(small)
    load_tokenizer(str(in_shipped / "base"), padding_side=None).save_pretrained(small)
    out = tmp_path / "d"
    result = runner.invoke(
        app,
        ["distill", "--teacher", str(in_shipped / "base"), "--student", str(small), "-l", "sw",
         "--limit", "16", "--steps", "8", "--out", str(out), "training.batch_size=4",
         "training.learning_rate=0.002", "eval=null", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    training = json.loads((out / "summary.json").read_text())["training"]
    assert training["divergence_after"] < 0.8 * training["divergence_before"]


def test_folders_are_never_left_stuck(in_shipped, tmp_path):
    out = tmp_path / "d"
    failed = _distill(in_shipped, out, "training.max_length=16")  # every prompt is longer
    assert failed.exit_code == 2 and "max_length" in failed.output
    fixed = _distill(in_shipped, out, "eval=null")  # the corrected rerun, same folder
    assert fixed.exit_code == 0, fixed.output
    # an evaluation cut short by a kill is finished by the rerun
    summary = json.loads((out / "summary.json").read_text())
    assert summary["eval"] is None
    again = _distill(in_shipped, out)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "summary.json").read_text())["eval"]["testbed"]["sw"]["n"] == 3
    # --overwrite with settings that cannot run leaves the old model in place
    model = (out / "model.safetensors").read_bytes()
    bad = _distill(in_shipped, out, "training.max_length=16", "--overwrite")
    assert bad.exit_code == 2 and (out / "model.safetensors").read_bytes() == model
    # killed after the model was saved, before its summary: the same recipe trains it again
    (out / "summary.json").unlink()
    redone = _distill(in_shipped, out)
    assert redone.exit_code == 0, redone.output
    assert (out / "summary.json").is_file()
    # a `polyglot train` output is never written into
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "recipe.yaml").write_text("identity: {}\ninputs: {}\nrecipe: {base: x}\n")
    (trained / "summary.json").write_text("{}")
    refused = _distill(in_shipped, trained, "--overwrite")
    assert (
        refused.exit_code == 2
        and "holds a trained model (its record), not a distilled model" in refused.output
    )
    assert (trained / "summary.json").read_text() == "{}"


def test_a_mixed_schema_puts_the_students_terms_in_the_response(parts):
    dataset, _, _ = parts
    data = ParallelData(languages=["sw"], limit=6)
    gold = {i: f"Sara has {n} apples. The answer is {n}." for n, i in enumerate(dataset.ids)}
    english = make_pairs(dataset, gold, data, "native-cot")
    mixed = make_pairs(dataset, gold, data, "native-cot", schema="mixed")
    assert [p.response for p in english] == [" " + gold[p.id] for p in english]
    for pair in mixed:
        assert pair.response.rstrip().endswith(f"Jibu ni {int(pair.answer)}.")
        assert "apples" not in pair.response  # the lexicon's term in Swahili


def test_a_named_benchmark_is_parallel_data(in_shipped, shared_data, tmp_path):
    """MGSM read as it is: no gold reasoning, so the teacher's own answers are the responses."""
    out = tmp_path / "mgsm"
    result = runner.invoke(
        app,
        ["distill", "--teacher", str(in_shipped / "base"), "--student", str(in_shipped / "base"),
         "-l", "sw", "--level", "sequence", "data.benchmark=mgsm", "data.response_field=null",
         "sequence.keep=all", "data.limit=4", "--steps", "2", "eval=null",
         "sequence.max_new_tokens=64", "--out", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    teacher = (out / "_teacher" / "run.json").read_text()
    assert '"mgsm"' in teacher
    refused = runner.invoke(app, ["distill", "--teacher", "t", "--student", "s", "-l", "sw",
                                  "data.benchmark=mgsm", "--out", str(tmp_path / "x")])  # fmt: skip
    assert refused.exit_code == 2 and "response_field: null" in refused.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("launcher", "extra"),
    [
        (["torchrun", "--nproc_per_node", "2"], ["--on-policy", "0.5"]),
        (["accelerate", "launch", "--config_file", "configs/accelerate/ddp.yaml",
          "--num_processes", "2"], ["--teacher-logits", "topk", "--top-k", "8"]),
    ],
)  # fmt: skip
def test_two_processes_distill_one_model(in_shipped, tmp_path, launcher, extra):
    """`torchrun --nproc_per_node 2 -m polyglot distill`, and `accelerate launch` with the
    shipped DDP config (DDP over gloo on the CPU): the main process prepares the folder (and
    the top-k cache), writes and reports; the other waits for it and trains its shard."""
    import shutil

    program = shutil.which(launcher[0], path=str(Path(sys.executable).parent))
    if program is None:
        pytest.skip(f"{launcher[0]} is not installed beside this Python")
    out = tmp_path / "ddp"
    root = Path(__file__).parents[2]
    command = [
        program, *[str(root / a) if a.startswith("configs/") else a for a in launcher[1:]],
        "-m", "polyglot", "distill", "--teacher",
        f"{in_shipped}/base", "--student", f"{in_shipped}/base", "-l", "sw", "--limit", "8",
        "--steps", "4", "training.batch_size=2", "eval=null", "--out", str(out),
        "--no-progress", *extra,
    ]  # fmt: skip
    env = {**os.environ, "POLYGLOT_TESTBED_DIR": str(in_shipped)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("distilled (token level)") == 1  # one process speaks
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training"]["processes"] == 2 and summary["training"]["steps"] == 4
    assert summary["training"]["divergence_after"] < summary["training"]["divergence_before"]
    assert (out / "model.safetensors").is_file() and not (out / "_ready.json").exists()


def test_a_second_distillation_on_a_held_folder_changes_nothing(in_testbed, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "held"
    out.mkdir()
    record = out / "recipe.yaml"  # an unstarted distillation's record (freed by a rerun)
    record.write_text("identity: {}\nrecipe: {teacher: x}\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom polyglot.outputs import hold\n"
         "hold(sys.argv[1])\nprint('held', flush=True)\ntime.sleep(600)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _distill(in_testbed, out)
        assert result.exit_code == 2 and f"process {holder.pid}" in result.output, result.output
        assert record.is_file()  # the running one's folder is left as it was
    finally:
        holder.kill()
        holder.wait()
