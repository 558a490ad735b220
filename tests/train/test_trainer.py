"""train_causal_lm: weights really move and the loss goes down, with either packing; a killed
run resumes from its checkpoint; a changed config does not."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, TrainerCallback

from polyglot.models import load_tokenizer
from polyglot.provenance import read_card
from polyglot.train import TrainingConfig, train_causal_lm
from polyglot.train.trainer import CHECKPOINTS

TEXTS = [f"Tom has {n} apples. Then Tom buys 2 more apples. {n} + 2 = {n + 2}." for n in range(64)]


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("packing", ["stream", "documents"])
def test_training_moves_every_layer_and_lowers_the_loss(tiny_model, tmp_path, packing):
    tokenizer = load_tokenizer(str(tiny_model), padding_side="right")
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    before = _weights(model)
    config = TrainingConfig(
        steps=20, batch_size=4, max_length=64, packing=packing, learning_rate=3e-3
    )
    info = train_causal_lm(model, tokenizer, TEXTS, config, tmp_path / "out", progress=False)
    after = _weights(AutoModelForCausalLM.from_pretrained(tmp_path / "out"))
    for name, weight in before.items():
        assert not torch.equal(weight, after[name]), f"{name} did not move"
        assert torch.isfinite(after[name]).all(), f"{name} has NaN or inf"
    assert info["final_loss"] < info["first_loss"] - 0.5, info
    card = read_card(tmp_path / "out")
    assert card["kind"] == "trained-model" and card["config"]["packing"] == packing
    assert card["inputs"]["training_blocks"] and card["versions"]["transformers"]
    assert not (tmp_path / "out" / CHECKPOINTS).exists()  # removed once the model is saved


class _Kill(TrainerCallback):
    """Stops the process's training at a step, as a kill would (after that step's checkpoint)."""

    def __init__(self, at: int):
        self.at = at

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at:
            raise KeyboardInterrupt


def test_a_killed_training_resumes_from_its_checkpoint(tiny_model, tmp_path):
    tokenizer = load_tokenizer(str(tiny_model), padding_side="right")
    config = TrainingConfig(steps=12, batch_size=4, max_length=64, save_steps=4, learning_rate=3e-3)
    out = tmp_path / "out"

    def fresh_model():
        return AutoModelForCausalLM.from_pretrained(tiny_model)

    straight = train_causal_lm(
        fresh_model(), tokenizer, TEXTS, config, tmp_path / "straight", progress=False
    )
    with pytest.raises(KeyboardInterrupt):
        train_causal_lm(
            fresh_model(), tokenizer, TEXTS, config, out, progress=False, callbacks=[_Kill(6)]
        )
    assert (out / CHECKPOINTS / "checkpoint-4").is_dir()
    resumed = train_causal_lm(fresh_model(), tokenizer, TEXTS, config, out, progress=False)
    assert resumed["resumed_from_step"] == 4 and straight["resumed_from_step"] is None
    # the resumed run continues the same schedule and data order: same final weights
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "straight").state_dict()
    b = AutoModelForCausalLM.from_pretrained(out).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_checkpoints_of_another_config_or_start_model_are_dropped(tiny_model, tmp_path):
    tokenizer = load_tokenizer(str(tiny_model), padding_side="right")
    config = TrainingConfig(steps=8, batch_size=4, max_length=64, save_steps=2)
    out = tmp_path / "out"
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    with pytest.raises(KeyboardInterrupt):
        train_causal_lm(model, tokenizer, TEXTS, config, out, progress=False, callbacks=[_Kill(3)])
    changed = config.model_copy(update={"learning_rate": 1e-3})
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    info = train_causal_lm(model, tokenizer, TEXTS, changed, out, progress=False)
    assert info["resumed_from_step"] is None
    # the same config from other starting weights does not resume either
    with pytest.raises(KeyboardInterrupt):
        model = AutoModelForCausalLM.from_pretrained(tiny_model)
        train_causal_lm(model, tokenizer, TEXTS, config, out, progress=False, callbacks=[_Kill(3)])
    other = AutoModelForCausalLM.from_pretrained(tiny_model)
    with torch.no_grad():
        other.lm_head.weight.mul_(0.5)
    assert (
        train_causal_lm(other, tokenizer, TEXTS, config, out, progress=False)["resumed_from_step"]
        is None
    )


def test_a_checkpoint_cut_off_by_a_kill_is_skipped(tiny_model, tmp_path):
    tokenizer = load_tokenizer(str(tiny_model), padding_side="right")
    config = TrainingConfig(steps=8, batch_size=4, max_length=64, save_steps=2)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        model = AutoModelForCausalLM.from_pretrained(tiny_model)
        train_causal_lm(model, tokenizer, TEXTS, config, out, progress=False, callbacks=[_Kill(5)])
    latest = out / CHECKPOINTS / "checkpoint-4"
    (latest / "trainer_state.json").unlink()  # as if killed while saving it
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    info = train_causal_lm(model, tokenizer, TEXTS, config, out, progress=False)
    assert info["resumed_from_step"] is None or info["resumed_from_step"] < 4


def test_training_shows_a_bar_not_log_dictionaries_and_logs_the_detail(
    tiny_model, tmp_path, capsys
):

    from polyglot.progress import log_to_file, stop_logging_to_file

    handler = log_to_file(tmp_path / "train.log")
    try:
        tokenizer = load_tokenizer(str(tiny_model), padding_side="right")
        model = AutoModelForCausalLM.from_pretrained(tiny_model)
        config = TrainingConfig(steps=10, batch_size=4, max_length=64)
        train_causal_lm(model, tokenizer, TEXTS, config, tmp_path / "out", progress=True)
    finally:
        stop_logging_to_file(handler)
    printed = capsys.readouterr()
    assert "training" in printed.out and "10/10" in printed.out  # the bar, at its end
    assert "{'loss'" not in printed.out + printed.err  # no Trainer log dictionaries
    assert "Writing model shards" not in printed.err
    detail = (tmp_path / "train.log").read_text()
    assert "polyglot.train" in detail and "'loss':" in detail and "grad_norm" in detail
