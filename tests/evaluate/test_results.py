"""Per-language results, scoring and the records file, on hand-made records."""

from __future__ import annotations

import math

import pytest

from polyglot.evaluate.records import append_records, read_records
from polyglot.evaluate.results import summarize
from polyglot.evaluate.scoring import fidelity, score_outputs


def _record(lang, item, correct, answer=1.0, fid=None, tokens=10, seconds=0.5):
    return {
        "key": f"{lang}/{item}",
        "id": str(item),
        "lang": lang,
        "correct": correct,
        "answer": answer,
        "rule": "cue" if answer is not None else None,
        "fidelity": fid,
        "new_tokens": tokens,
        "seconds": seconds,
    }


def test_summary_matches_a_hand_computed_example():
    en = [True, True, False, True]
    de = [True, False, False, False]
    records = [_record("en", i, c) for i, c in enumerate(en)]
    records += [
        _record(
            "de", i, c, answer=None if i == 3 else 2.0, fid={"target": 0.5, "en": 0.5, "other": 0.0}
        )
        for i, c in enumerate(de)
    ]
    result = summarize(records, ["en", "de"], ["0", "1", "2", "3"])
    en_row, de_row = result["languages"]["en"], result["languages"]["de"]
    assert (en_row["n"], en_row["correct"], en_row["accuracy"]) == (4, 3, 0.75)
    assert (de_row["correct"], de_row["accuracy"], de_row["no_answer"]) == (1, 0.25, 1)
    assert de_row["gap_points"] == -50.0
    assert de_row["gap_ratio"] == pytest.approx(1 / 3, abs=1e-4)
    # item 0 both, items 1 and 3 English only, item 2 neither
    assert de_row["consistency"] == {
        "both": 0.25,
        "english_only": 0.5,
        "language_only": 0.0,
        "neither": 0.25,
    }
    assert de_row["fidelity"] == {"target": 0.5, "en": 0.5, "other": 0.0}
    assert en_row["fidelity"] is None
    assert de_row["ci95"][0] <= 0.25 <= de_row["ci95"][1]
    assert de_row["items_per_second"] == 2.0
    summary = result["summary"]
    assert summary["english_accuracy"] == 0.75
    assert summary["mean_accuracy_non_english"] == 0.25
    assert summary["mean_gap_points"] == -50.0
    assert summary["no_answer"] == 1 and summary["items"] == 8


def test_score_outputs_extracts_in_the_question_language():
    record = score_outputs(["Schritt für Schritt. Die Antwort lautet 1.000."], "de", 1000.0)
    assert record["correct"] and record["answer"] == 1000.0 and record["rule"] == "cue"
    assert record["fidelity"]["target"] == 1.0


@pytest.mark.parametrize("output", ["", "   ", None, float("nan")])
def test_empty_or_nan_output_is_a_counted_no_answer(output):
    record = score_outputs([output], "en", 3.0)
    assert record["answer"] is None and not record["correct"]
    assert record["reason"]
    assert record["fidelity"] is None


def test_majority_vote_over_samples():
    outputs = ["The answer is 4.", "The answer is 5.", "The answer is 5.", "no idea"]
    record = score_outputs(outputs, "en", 5.0)
    assert record["answer"] == 5.0 and record["correct"]
    assert record["output"] == outputs[1]
    assert [s["answer"] for s in record["samples"]] == [4.0, 5.0, 5.0, None]
    assert record["agreement"] == 0.5


def test_fidelity_splits_target_english_and_other():
    text = "Tenemos 5 manzanas y compramos 3 más. So the total is 8 apples in all."
    shares = fidelity(text, "es")
    assert shares["target"] > 0.3 and shares["en"] > 0.3
    assert math.isclose(shares["target"] + shares["en"] + shares["other"], 1.0, abs_tol=1e-3)


def test_records_survive_a_cut_off_last_line(tmp_path):
    path = tmp_path / "generations.jsonl"
    append_records(path, [{"key": "en/1", "v": 1}, {"key": "en/2", "v": 2}])
    with path.open("a") as handle:
        handle.write('{"key": "en/3", "v"')  # killed mid-write
    assert list(read_records(path)) == ["en/1", "en/2"]
    read_records(path, repair=True)
    append_records(path, [{"key": "en/3", "v": 3}])
    assert [r["v"] for r in read_records(path).values()] == [1, 2, 3]


def test_a_damaged_middle_line_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "generations.jsonl"
    path.write_text('{"key": "a"}\nnot json\n{"key": "b"}\n')
    with pytest.raises(ValueError, match=r"generations.jsonl:2"):
        read_records(path)


def test_shipped_eval_configs_validate():
    from polyglot.config import load_yaml_model
    from polyglot.evaluate import EvalConfig
    from polyglot.resources import shipped_dir

    configs = sorted((shipped_dir("configs") / "eval").glob("*.yaml"))
    assert configs
    for path in configs:
        config = load_yaml_model(path, EvalConfig)
        assert config.benchmark and config.out.startswith("runs/")


def test_mean_new_tokens_counts_every_sample():
    """k samples of an item are k generations: their token counts (a list) all count."""
    records = [{**_record("en", 0, True), "new_tokens": [10, 20, 30]},
               {**_record("en", 1, False), "new_tokens": 40}]  # fmt: skip
    row = summarize(records, ["en"], ["0", "1"])["languages"]["en"]
    assert row["mean_new_tokens"] == 25.0
