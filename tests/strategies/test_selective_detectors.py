"""Understanding-failure detectors: calibration labels, thresholds that never see test labels,
the metrics, the probe, the signals of a real forward pass, `polyglot detect train` and
`polyglot eval --strategy selective` on the shipped testbed base."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.strategies.selective.calibration import (
    budget_threshold,
    label_items,
    max_f1_threshold,
    pr_auc,
    report,
    roc_auc,
    split_by_item,
    split_keys,
    top_share,
)
from polyglot.strategies.selective.probe import Probe

runner = CliRunner()


def _rec(lang, i, correct):
    return {"key": f"{lang}/{i}", "lang": lang, "id": str(i), "correct": correct}


def test_labels_by_hand():
    native = {r["key"]: r for r in [_rec("en", 1, True), _rec("sw", 1, False),
              _rec("sw", 2, True), _rec("sw", 3, False), _rec("sw", 4, False)]}  # fmt: skip
    understood = {r["key"]: r for r in [_rec("sw", 1, True), _rec("sw", 2, True),
                  _rec("sw", 3, False)]}  # fmt: skip
    # sw/1 not understood (wrong natively, right understood); sw/2 understood; sw/3 wrong both
    # ways: left out; sw/4 has no understood run: left out; English never labelled
    assert label_items(native, understood) == {"sw/1": 1, "sw/2": 0}


def test_thresholds_and_metrics():
    scores = [0.9, 0.8, 0.7, 0.7, 0.1]
    assert budget_threshold(scores, 0.4) == 0.7  # flags 0.9 and 0.8 (ties at the cut stay)
    assert sum(s > budget_threshold(scores, 0.5) for s in scores) <= 2
    assert sum(s > budget_threshold(scores, 1.0) for s in scores) == 5
    labels = [1, 1, 0, 1, 0]
    threshold = max_f1_threshold(scores, labels)
    assert threshold < 0.7  # flags the 0.7s too: F1 0.857 beats 0.8 with 0.9, 0.8 alone
    assert roc_auc([0.9, 0.1], [1, 0]) == 1.0 and roc_auc([0.5, 0.5], [1, 0]) == 0.5
    assert pr_auc([0.9, 0.8, 0.1], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
    assert pr_auc([0.5] * 5, [1, 1, 1, 0, 0]) == 0.6  # a constant score: the prevalence
    assert top_share({"a": 1.0, "b": 1.0, "c": 1.0, "d": 0.0}, 0.5) == {"a", "b"}  # exactly
    keys = [f"{lang}/{i}" for lang in ("sw", "ko") for i in range(20)]
    parts = split_by_item(keys, (0.6, 0.2, 0.2), seed=1)
    ids = [{k.split("/")[1] for k in part} for part in parts]
    assert not ids[0] & ids[2] and not ids[1] & ids[2]  # a problem never crosses parts
    figures = report(scores, labels, 0.75)
    assert figures["flag_rate"] == 0.4 and figures["f1"] == pytest.approx(0.8)
    a, b, c = split_keys([f"k{i}" for i in range(10)], (0.6, 0.2, 0.2), seed=3)
    assert len(a) == 6 and len(b) == 2 and len(c) == 2 and not set(a) & set(c)
    assert split_keys([f"k{i}" for i in range(10)], (0.6, 0.2, 0.2), seed=3)[2] == c


def test_the_probe_learns_separable_states_and_guards_its_model(tmp_path):
    generator = torch.Generator().manual_seed(0)
    states = [torch.randn(8, generator=generator) for _ in range(60)]
    labels = [int(s[0] > 0) for s in states]
    for state, label in zip(states, labels, strict=True):
        state[0] += 2.0 if label else -2.0  # a clear margin along one direction
    probe = Probe.fit(states[:40], labels[:40], states[40:50], labels[40:50])
    scores = [probe.score(s) for s in states[50:]]
    assert roc_auc(scores, labels[50:]) == 1.0
    mine = {"model": "m", "revision": None, "fingerprint": "abc", "adapter_fingerprint": None}
    probe.save(tmp_path, {"model_identity": mine, "layers": 2, "threshold": 0.0})
    again = Probe.load(tmp_path, mine)
    assert again.score(states[0]) == pytest.approx(probe.score(states[0]))
    with pytest.raises(ConfigError, match="another model"):
        Probe.load(tmp_path, {**mine, "fingerprint": "xyz"})
    with pytest.raises(ConfigError, match="another adapter"):
        Probe.load(tmp_path, {**mine, "adapter_fingerprint": "f00"})
    hub = {"model": "org/model", "revision": "main", "fingerprint": None}
    with pytest.raises(ConfigError, match="org/model@main"):  # a hub id: by id and revision
        Probe.load(tmp_path, hub)
    with pytest.raises(ConfigError, match="width 8"):
        again.scores({"sw/1": torch.zeros(4)})
    with pytest.raises(ConfigError, match="one class"):
        Probe.fit(states[:10], [1] * 10, [], [])
    # a small MLP probe: the same separable states, saved and read back as an MLP
    mlp = Probe.fit(states[:40], labels[:40], states[40:50], labels[40:50], kind="mlp")
    assert roc_auc([mlp.score(s) for s in states[50:]], labels[50:]) == 1.0
    mlp.save(tmp_path / "mlp", {"model_identity": mine})
    back = Probe.load(tmp_path / "mlp", mine)
    assert back.kind == "mlp" and back.score(states[3]) == pytest.approx(mlp.score(states[3]))


def test_signals_of_a_real_forward_pass(tiny_model):
    from polyglot.models import load_model, load_tokenizer
    from polyglot.strategies.selective.signals import trace_signals

    model = load_model(str(tiny_model), device="cpu", dtype="float32")
    tokenizer = load_tokenizer(str(tiny_model), padding_side="right")
    records = [
        {"key": "sw/1", "prompt": "Swali: Ana ana 3", "output": "Jibu ni 4."},
        {"key": "sw/2", "prompt": "Swali: Ana ana 3 na 5 zaidi", "output": ""},
    ]
    found = trace_signals(model, tokenizer, records, batch_size=2)
    assert found["sw/1"]["hidden"].shape == (model.config.hidden_size,)
    assert found["sw/1"]["confidence_mean"] >= found["sw/1"]["confidence_min"] > 0
    assert found["sw/2"]["trace_tokens"] == 0 and found["sw/2"]["prompt_nll"] > 0
    # batching does not change a record's signals
    alone = trace_signals(model, tokenizer, records[:1], batch_size=1)["sw/1"]
    assert alone["prompt_nll"] == pytest.approx(found["sw/1"]["prompt_nll"], abs=1e-4)
    assert torch.allclose(alone["hidden"], found["sw/1"]["hidden"], atol=1e-4)


def test_self_reflection_compares_the_two_answers_likelihoods(tiny_model):
    from polyglot.models import load_model, load_tokenizer
    from polyglot.strategies.selective.reflection import reflection_context, reflection_scores

    model = load_model(str(tiny_model), device="cpu", dtype="float32")
    tokenizer = load_tokenizer(str(tiny_model), padding_side="right")
    records = [
        {"key": "sw/1", "lang": "sw", "prompt": "Swali: Ana ana 3", "output": " Jibu ni 4."},
        {"key": "de/1", "lang": "de", "prompt": "Frage: Anna hat 3", "output": ""},
    ]
    scores = reflection_scores(model, tokenizer, records, batch_size=3)
    context, yes, no = reflection_context(records[0])
    assert context.endswith("Jibu Ndiyo au Hapana.\n") and (yes, no) == ("Ndiyo", "Hapana")

    def logprob(answer: str) -> float:  # by hand: one unpadded pass per answer
        ids = tokenizer(context, add_special_tokens=True).input_ids
        tail = tokenizer(answer, add_special_tokens=False).input_ids
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids + tail])).logits[0]
        lp = torch.log_softmax(logits[len(ids) - 1 : -1], dim=-1)
        return float(sum(lp[j, t] for j, t in enumerate(tail)))

    p_yes, p_no = torch.tensor(logprob(yes)).exp(), torch.tensor(logprob(no)).exp()
    assert scores["sw/1"] == pytest.approx(float(p_no / (p_yes + p_no)), abs=1e-4)
    assert 0 < scores["de/1"] < 1


def test_self_reflection_needs_the_packs_question(monkeypatch):
    from polyglot.packs import load_pack
    from polyglot.strategies.selective import reflection

    pack = load_pack("sw").model_copy(update={"reflection": None})
    monkeypatch.setattr(reflection, "load_pack", lambda code: pack)
    with pytest.raises(ConfigError, match="'sw' language pack has no `reflection`"):
        reflection.reflection_context({"lang": "sw", "prompt": "x", "output": "y"})


@pytest.fixture(scope="module")
def probe(shipped_testbed, tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "p"
    result = _detect_train(
        shipped_testbed, f"{shipped_testbed}/world/train/{{lang}}.jsonl", 40, out
    )
    assert result.exit_code == 0, result.output
    return out


def _detect_train(testbed, data: str, limit: int, out):
    return runner.invoke(
        app,
        ["detect", "train", "--model", str(testbed / "base"), "--languages", "sw,ko",
         "--data", data, "--limit", str(limit), "--out", str(out), "--no-progress"],
    )  # fmt: skip


def test_detect_train_labels_trains_and_judges_on_held_out_items(probe):
    meta = json.loads((probe / "probe.json").read_text())
    assert set(meta["detectors"]) == {"confidence", "confidence-min", "prompt-nll",
                                      "self-reflection", "language-drift", "probe"}  # fmt: skip
    splits = meta["splits"]
    assert splits["held_out"] == len(meta["held_out_keys"]) > 0
    assert sum(meta["labels"].values()) == sum(splits.values())
    for figures in meta["detectors"].values():
        assert figures["n"] == splits["held_out"]
    assert (probe / "report.md").is_file() and (probe / "native" / "results.json").is_file()


def _selective(testbed, out, *extra):
    return runner.invoke(
        app,
        ["eval", "--model", str(testbed / "base"), "--benchmark", "testbed", "--data",
         f"{testbed}/world/{{split}}/{{lang}}.jsonl", "--languages", "en,sw,ko", "--limit",
         "20", "--max-new-tokens", "160", "--strategy", "selective", "--translator", "reference",
         "--out", str(out),
         "--no-progress", *extra],
    )  # fmt: skip


def test_selective_routes_each_item_by_its_score(shipped_testbed, probe, tmp_path):
    out = tmp_path / "sel"
    result = _selective(shipped_testbed, out, "--detector", f"probe:{probe}")
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in (out / "generations.jsonl").read_text().splitlines()]
    run = json.loads((out / "run.json").read_text())
    native_lines = (out / "native" / "generations.jsonl").read_text().splitlines()
    native_records = {r["key"]: r for r in map(json.loads, native_lines)}
    threshold = run["selective"]["threshold"]
    assert threshold == json.loads((probe / "probe.json").read_text())["threshold"]
    for record in records:
        if record["lang"] == "en":
            assert record["route"] == "native" and record["score"] is None
            continue
        flagged = record["score"] > threshold
        assert record["route"] == ("translated" if flagged else "native")
        assert record["translated"] == flagged and record["solved_in"] == (
            "en" if flagged else record["lang"]
        )
        if flagged:  # the record is the English attempt's, whole
            lang = record["lang"]
            sub = out / "translated" / lang / "generations.jsonl"
            theirs = {r["key"]: r for r in map(json.loads, sub.read_text().splitlines())}
            kept = {k: v for k, v in record.items() if k not in ("route", "score")}
            assert kept == theirs[record["key"]]
        else:
            assert record["output"] == native_records[record["key"]]["output"]
    results = json.loads((out / "results.json").read_text())
    for lang in ("sw", "ko"):
        rows = [r for r in records if r["lang"] == lang]
        share = sum(r["route"] == "translated" for r in rows) / len(rows)
        assert results["languages"][lang]["translation"]["rate"] == pytest.approx(share)
    again = _selective(shipped_testbed, out, "--detector", f"probe:{probe}")
    assert again.exit_code == 0 and "nothing recomputed" in again.output  # every stage reused

    # the report of selective beside translate-all: the curve swept over thresholds
    full = tmp_path / "full"
    result = runner.invoke(
        app,
        ["eval", "--model", str(shipped_testbed / "base"), "--benchmark", "testbed", "--data",
         f"{shipped_testbed}/world/{{split}}/{{lang}}.jsonl", "--languages", "en,sw,ko",
         "--limit", "20", "--max-new-tokens", "160", "--strategy", "translate-all",
         "--translator", "reference",
         "--out", str(full), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = tmp_path / "cmp"
    result = runner.invoke(app, ["report", str(out / "native"), str(full), str(out), "--out",
                                 str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    comparison = json.loads((report / "comparison.json").read_text())
    found = comparison["selective"]["sel"]
    assert found["translate_all"] == "full"
    by_key = {r["key"]: r for r in records}
    full_records = {
        r["key"]: r for r in map(json.loads, (full / "generations.jsonl").read_text().splitlines())
    }  # noqa: E501
    for group, row in found["languages"].items():
        keys = [k for k, r in by_key.items() if r["lang"] != "en" and group in ("all", r["lang"])]
        curve = row["curve"]
        assert curve[0][0] == 0 and curve[-1][0] == 1
        assert [x for x, _ in curve] == sorted(x for x, _ in curve)
        assert curve[0][1] == pytest.approx(row["native"], abs=1e-4)
        assert curve[-1][1] == pytest.approx(row["translate_all"], abs=1e-4)
        full_acc = sum(full_records[k]["correct"] for k in keys) / len(keys)
        assert row["translate_all"] == pytest.approx(full_acc, abs=1e-4)
        oracle = sum(full_records[k]["correct"] and not native_records[k]["correct"] for k in keys)
        assert row["oracle_share"] == pytest.approx(oracle / len(keys), abs=1e-4)
        # the run's own operating point is on the curve (one threshold for all languages)
        assert row["selective"]["accuracy"] in [y for x, y in curve
                                                if x == row["selective"]["rate"]]  # fmt: skip
    flagged = sum(r["route"] == "translated" for r in records)
    assert comparison["cost"]["sel"]["generations"] == len(records) + flagged
    assert comparison["cost"]["full"]["generations"] == len(records)
    page = (report / "comparison.html").read_text()
    assert "Selective translation: sel" in page and "Translation quality" in page


@pytest.mark.parametrize("detector", ["language-drift", "self-reflection"])
def test_a_budget_caps_the_translated_share(shipped_testbed, tmp_path, detector):
    out = tmp_path / "budget"
    result = _selective(shipped_testbed, out, "--detector", detector, "--budget", "0.25")
    assert result.exit_code == 0, result.output
    records = [json.loads(x) for x in (out / "generations.jsonl").read_text().splitlines()]
    foreign = [r for r in records if r["lang"] != "en"]
    assert sum(r["route"] == "translated" for r in foreign) <= 0.25 * len(foreign)
    assert all(0 <= r["score"] <= 1 for r in foreign)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--detector", "confidence"], "no calibrated threshold"),
        (["--detector", "confidence", "--budget", "1.5"], "(0, 1]"),
        (["--detector", "oracle", "--budget", "0.2"], "one of confidence"),
        (["--budget", "0.2"], "needs --detector"),
        (["--detector", "probe:/nowhere"], "no probe"),
    ],
)
def test_bad_selective_settings_are_one_line(shipped_testbed, tmp_path, extra, message):
    result = _selective(shipped_testbed, tmp_path / "bad", *extra)
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_signal_detector_takes_its_calibrated_threshold(shipped_testbed, probe, tmp_path):
    out = tmp_path / "calibrated"
    result = _selective(shipped_testbed, out, "--detector", "confidence", "--calibration",
                        str(probe))  # fmt: skip
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    meta = json.loads((probe / "probe.json").read_text())
    assert run["selective"]["threshold"] == meta["detectors"]["confidence"]["threshold"]
    records = [json.loads(x) for x in (out / "generations.jsonl").read_text().splitlines()]
    for record in records:
        if record["lang"] != "en":
            translated = record["score"] > run["selective"]["threshold"]
            assert record["route"] == ("translated" if translated else "native")
    both = _selective(shipped_testbed, tmp_path / "x", "--detector", "confidence",
                      "--calibration", str(probe), "--budget", "0.2")  # fmt: skip
    assert both.exit_code == 2 and "not several" in both.output


def test_a_probe_calibrated_on_other_prompts_is_refused(shipped_testbed, probe, tmp_path):
    meta = json.loads((probe / "probe.json").read_text())
    assert meta["prompting"] == {"mode": "native-cot", "shots": 0, "chat_template": False,
                                 "max_new_tokens": 160}  # fmt: skip
    result = _selective(shipped_testbed, tmp_path / "x", "--detector", f"probe:{probe}",
                        "--mode", "en-cot")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "calibrated on prompts made with --mode native-cot (this run: en-cot)" in result.output


def test_a_probe_of_another_model_is_refused(shipped_testbed, probe, tiny_model, tmp_path):
    result = runner.invoke(
        app,
        ["eval", "--model", str(tiny_model), "--benchmark", "testbed", "--data",
         f"{shipped_testbed}/world/{{split}}/{{lang}}.jsonl", "--languages", "en,sw",
         "--limit", "3", "--max-new-tokens", "8", "--strategy", "selective", "--translator",
         "reference", "--detector", f"probe:{probe}", "--out", str(tmp_path / "o"),
         "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 2 and "another model" in result.output, result.output


def test_a_probe_calibrated_on_the_evaluated_items_is_refused(shipped_testbed, tmp_path):
    """Its threshold would have seen their labels: refused before anything is generated."""
    probe = tmp_path / "on-test"
    data = f"{shipped_testbed}/world/{{split}}/{{lang}}.jsonl"  # the test split itself
    result = _detect_train(shipped_testbed, data, 30, probe)
    assert result.exit_code == 0, result.output
    out = tmp_path / "sel"
    refused = _selective(shipped_testbed, out, "--detector", f"probe:{probe}")
    assert refused.exit_code == 2 and "calibrated on 40 of the questions" in refused.output
    assert not (out / "native").exists()
    # the same files under another path (or benchmark name) are the same items
    other_path = runner.invoke(
        app,
        ["eval", "--model", str(shipped_testbed / "base"), "--benchmark", "custom", "--data",
         f"{shipped_testbed}/world/./test/{{lang}}.jsonl", "--columns",
         "question=question,answer=answer,id=id", "--languages", "sw", "--limit", "5",
         "--max-new-tokens", "160",
         "--strategy", "selective", "--translator", "reference", "--detector",
         f"probe:{probe}", "--out", str(out), "--no-progress"],
    )  # fmt: skip
    assert other_path.exit_code == 2 and "calibrated on 5 of the questions" in other_path.output


def test_selective_never_writes_into_a_model_folder(shipped_testbed, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(shipped_testbed / "base", model)
    result = _selective(shipped_testbed, model, "--detector", "language-drift", "--budget", "0.5")
    assert result.exit_code == 2, result.output
    assert not (model / "native").exists()
