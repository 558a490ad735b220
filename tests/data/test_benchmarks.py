import json

import pytest

from polyglot.config import ConfigError
from polyglot.data import load_benchmark, load_spec
from polyglot.resources import shipped_dir


@pytest.mark.parametrize("name", sorted(p.stem for p in shipped_dir("eval").glob("*.yaml")))
def test_every_shipped_benchmark_definition_validates(name):
    spec = load_spec(name)
    assert spec.name == name and spec.languages


def test_mgsm_is_parallel_and_id_aligned(mgsm):
    assert len(mgsm) == 250 and len(mgsm.languages) == 11
    assert mgsm.get("0", "en").answer_value == mgsm.get("0", "sw").answer_value == 18
    assert "Janet" in mgsm.get("0", "en").question
    assert len(mgsm.exemplars["bn"]) == 8
    assert not mgsm.exemplars["bn"][0].question.startswith("প্রশ্ন")


def test_polymath_ids_align_across_18_languages(polymath):
    assert len(polymath) == 125 and len(polymath.languages) == 18
    assert polymath.ids[:3] == ["0", "1", "2"]
    # PolyMath "low" is MGSM 0-124 in the same order
    assert polymath.get("2", "ko").answer_value == 70000


def test_language_subset_and_limit(shared_data):
    data = load_benchmark("mgsm", "en,th", limit=5)
    assert data.languages == ["en", "th"] and len(data) == 5


def test_benchmark_without_that_language_fails_clearly(shared_data):
    with pytest.raises(ConfigError, match="benchmark 'mgsm' has no language ko"):
        load_benchmark("mgsm", "en,ko")


def test_unknown_benchmark_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown benchmark 'nope'; known: .*mgsm"):
        load_benchmark("nope")


def test_bad_data_path_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"no data file for 'en': .*missing_en\.tsv"):
        load_benchmark("mgsm", "en", data=str(tmp_path / "missing_{lang}.tsv"))


def _write_tsv(path, rows):
    path.write_text("".join(f"{q}\t{a}\n" for q, a in rows), encoding="utf-8")


def test_misaligned_files_fail_with_counts(tmp_path):
    _write_tsv(tmp_path / "mgsm_en.tsv", [("one?", "1"), ("two?", "2"), ("three?", "3")])
    _write_tsv(tmp_path / "mgsm_de.tsv", [("eins?", "1"), ("zwei?", "2")])
    with pytest.raises(
        ConfigError, match=r"ids of 'de' \(2 items\) are not aligned with 'en' \(3 items\)"
    ):
        load_benchmark("mgsm", "en,de", data=str(tmp_path / "mgsm_{lang}.tsv"))


def test_shifted_rows_are_caught_by_their_answers(tmp_path):
    _write_tsv(tmp_path / "mgsm_en.tsv", [("one?", "1"), ("two?", "2")])
    _write_tsv(tmp_path / "mgsm_de.tsv", [("zwei?", "2"), ("eins?", "1")])
    with pytest.raises(ConfigError, match="different gold answers in 'de' and 'en'"):
        load_benchmark("mgsm", "en,de", data=str(tmp_path / "mgsm_{lang}.tsv"))


def test_bad_gold_answer_names_file_and_line(tmp_path):
    _write_tsv(tmp_path / "x_en.tsv", [("one?", "1"), ("two?", "two")])
    with pytest.raises(ConfigError, match=r"x_en\.tsv:2: gold answer 'two' is not a number"):
        load_benchmark("mgsm", "en", data=str(tmp_path / "x_{lang}.tsv"))


def test_custom_jsonl_with_column_mapping(tmp_path):
    for lang, question in [("en", "How many?"), ("sw", "Ngapi?")]:
        rows = [
            {"uid": "a", "problem": question, "solution": "1,234"},
            {"uid": "b", "problem": question, "solution": "7"},
        ]
        (tmp_path / f"{lang}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in rows), encoding="utf-8"
        )
    data = load_benchmark(
        "custom",
        "en,sw",
        data=str(tmp_path / "{lang}.jsonl"),
        columns={"question": "problem", "answer": "solution", "id": "uid"},
    )
    assert data.ids == ["a", "b"]
    assert data.get("a", "sw").question == "Ngapi?"
    assert data.get("a", "sw").answer_value == 1234


def test_custom_data_with_a_wrong_column_names_it(tmp_path):
    (tmp_path / "en.jsonl").write_text(json.dumps({"q": "x", "a": "1"}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"en\.jsonl:1: no question column 'question'"):
        load_benchmark("custom", "en", data=str(tmp_path / "{lang}.jsonl"))


def test_invalid_jsonl_names_the_line(tmp_path):
    (tmp_path / "en.jsonl").write_text(
        '{"question": "x", "answer": "1"}\n{oops\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"en\.jsonl:2: invalid JSON"):
        load_benchmark("custom", "en", data=str(tmp_path / "{lang}.jsonl"))


def test_hugging_face_source_with_a_local_file_backed_dataset(tmp_path):
    """The juletxara/mgsm layout (configs per language, test + train splits), served from disk."""
    repo = tmp_path / "mgsm"
    configs = []
    for lang, label, cot in [
        ("en", "Question:", "Step-by-Step Answer:"),
        ("de", "Frage:", "Schritt-für-Schritt-Antwort:"),
    ]:
        (repo / lang).mkdir(parents=True)
        test = [
            {"question": f"{lang} q{i}", "answer": "", "answer_number": n, "equation_solution": ""}
            for i, n in enumerate([18, 3])
        ]
        train = [
            {
                "question": f"{label} {lang} shot",
                "answer": f"{cot} 5 + 6 = 11. x 11.",
                "answer_number": 11,
                "equation_solution": "5 + 6 = 11.",
            }
        ]
        for split, rows in [("test", test), ("train", train)]:
            (repo / lang / f"{split}.jsonl").write_text(
                "\n".join(json.dumps(r) for r in rows), encoding="utf-8"
            )
        configs.append(
            f"- config_name: {lang}\n  data_files:\n  - split: test\n    path: {lang}/test.jsonl\n"
            f"  - split: train\n    path: {lang}/train.jsonl\n"
        )
    (repo / "README.md").write_text(
        "---\nconfigs:\n" + "".join(configs) + "---\n", encoding="utf-8"
    )
    spec = (shipped_dir("eval") / "mgsm-hf.yaml").read_text(encoding="utf-8")
    yaml_path = tmp_path / "mgsm-local.yaml"
    yaml_path.write_text(spec.replace("path: juletxara/mgsm", f"path: {repo}"), encoding="utf-8")

    data = load_benchmark(str(yaml_path), "en,de")
    assert data.ids == ["0", "1"]
    assert data.get("1", "de").question == "de q1" and data.get("0", "de").answer_value == 18
    assert data.exemplars["de"][0].question == "de shot"
    assert data.exemplars["de"][0].answer.startswith("5 + 6")


def test_unreachable_hub_dataset_fails_with_one_line(monkeypatch):
    import datasets
    import huggingface_hub

    # offline mode is read at import time; set it where the libraries look
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConfigError, match="could not load Hugging Face dataset 'juletxara/mgsm'"):
        load_benchmark("mgsm-hf", "en")
