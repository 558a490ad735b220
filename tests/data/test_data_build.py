"""``polyglot data build``: the four schemas, every filter, decontamination against real MGSM,
the output a ``datasets`` user loads, reuse and refusal, a teacher on a tiny model."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.data.build import DataBuildConfig, build_dataset
from polyglot.data.filters import Decontaminator, NearDuplicates, repeated_phrase, target_share
from polyglot.data.schemas import render_schema, switch_terms

runner = CliRunner()
COT = "Tom has 5 apples. Tom finds 3 more apples. 5 + 3 = 8. The answer is 8."


def test_schemas():
    traces = {"en": COT, "native": "Juma ana tufaha 5. 5 + 3 = 8. Jibu ni 8."}
    assert render_schema("english-cot", "sw", traces, 8) == COT
    assert render_schema("native-cot", "sw", traces, 8) == traces["native"]
    mixed = render_schema("mixed", "sw", traces, 8, testbed=True)
    # English steps, the question's names and objects in Swahili, the answer sentence in Swahili
    assert mixed.startswith("Juma has 5 matufaha.") and "finds 3 more matufaha" in mixed
    assert mixed.endswith("Jibu ni 8.") and "The answer" not in mixed
    assert render_schema("code-switch", "sw", traces, 8, ratio=0.0, rng=random.Random(0)) == COT
    every = render_schema("code-switch", "sw", traces, 8, ratio=1.0, rng=random.Random(0))
    assert "apples" not in every and every.endswith("The answer is 8.")
    assert render_schema("native-cot", "sw", {"en": COT}, 8) is None  # no native trace


def test_switch_terms_counts_and_respects_word_boundaries():
    text, switched = switch_terms("The dog and the hotdog.", "de", testbed=False)
    assert text == "The Hund and the hotdog." and switched == 1


def test_target_share_by_script_and_by_vocabulary():
    assert target_share("มานี has 14 ดินสอ.", "th") == pytest.approx(
        len("มานีดินสอ") / len("มานีhasดินสอ"), abs=0.01
    )
    question = "Amani ana penseli 14. Je, sasa Amani ana penseli ngapi?"
    share = target_share("Amani has 14 penseli. 14 + 2 = 16.", "sw", question)
    assert share == pytest.approx(len("Amanipenseli") / len("Amanihaspenseli"), abs=0.01)
    assert target_share("Tom has 14 pencils.", "sw", question) == 0


def test_repeated_phrase():
    assert repeated_phrase("so then so then so then so then we stop")
    assert not repeated_phrase(COT)


def test_near_duplicates_and_decontamination():
    dedup = NearDuplicates(threshold=0.8)
    long = " ".join(f"word{i}" for i in range(60))
    assert not dedup.seen("a", long)
    assert dedup.seen("b", long + " extra")
    assert not dedup.seen("c", " ".join(f"other{i}" for i in range(60)))
    question = " ".join(f"w{i}" for i in range(20))
    check = Decontaminator([question])
    assert check.hit("prefix " + " ".join(f"w{i}" for i in range(3, 16)) + " suffix")
    assert not check.hit(" ".join(f"w{i}" for i in range(3, 15)))  # 12 words: no 13-gram


def test_a_planted_mgsm_question_is_dropped(shared_data, tmp_path):
    """An MGSM question planted in the training source is caught by the 13-gram check."""
    mgsm_sw = (shared_data / "mgsm" / "mgsm_sw.tsv").read_text(encoding="utf-8").splitlines()
    planted = mgsm_sw[17].split("\t")[0]
    rows = [
        {
            "id": "clean",
            "question": "Juma ana machungwa 3. Anapata 2 zaidi. Ana mangapi?",
            "answer": 5,
            "cot_en": "Juma has 3 oranges. 3 + 2 = 5. The answer is 5.",
        },
        {"id": "planted", "question": planted, "answer": 7, "cot_en": "The answer is 7."},
    ]
    source = tmp_path / "sw.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    config = DataBuildConfig(
        source=str(source),
        languages=["sw"],
        schema="english-cot",
        decontaminate=["mgsm"],
        out=str(tmp_path / "out"),
        min_chars=0,
    )
    summary = build_dataset(config, log=lambda m: None)
    assert summary["languages"]["sw"]["dropped"]["contaminated"] == 1
    kept = [json.loads(line)["id"] for line in (tmp_path / "out" / "data.jsonl").open()]
    assert kept == ["clean"]
    # the source changed: the folder is not reused as if it were this source's
    source.write_text(source.read_text().replace("machungwa 3", "machungwa 4"))
    with pytest.raises(ConfigError, match="holds a finished dataset that differs from this one"):
        build_dataset(config, log=lambda m: None)
    assert "250 items" in summary["decontaminated_against"]["mgsm"]


def test_build_through_the_cli_loads_in_datasets(in_testbed, tmp_path):
    from datasets import load_dataset

    out = tmp_path / "mixed"
    args = [
        "data",
        "build",
        "-l",
        "sw,th",
        "--schema",
        "mixed",
        "--band",
        "0.2,0.8",
        "--limit",
        "40",
        "--out",
        str(out),
        "--decontaminate",
        "",
        "--no-progress",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for lang in ("sw", "th"):
        counts = summary["languages"][lang]
        assert counts["items"] == 40 and counts["kept"] + sum(counts["dropped"].values()) == 40
        assert counts["kept"] > 20
    rows = load_dataset(str(out), split="train")
    assert len(rows) == summary["examples"]
    first = rows[0]
    assert first["schema"] == "mixed" and [m["role"] for m in first["messages"]] == [
        "user",
        "assistant",
    ]
    assert (out / "card.json").is_file() and "## Examples" in (out / "README.md").read_text()
    # the same config again: reused; another one: refused, unless --overwrite
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "reusing" in again.output
    changed = runner.invoke(app, [*args, "--schema", "native-cot"])
    assert changed.exit_code == 2 and "--overwrite" in changed.output
    # a band nothing fits: a clear error, and the summary still written
    empty = runner.invoke(
        app,
        [
            "data",
            "build",
            "-l",
            "th",
            "--band",
            "0.99,1",
            "--limit",
            "10",
            "--out",
            str(tmp_path / "e"),
            "--decontaminate",
            "",
        ],
    )
    assert empty.exit_code == 2 and "nothing left after filtering" in empty.output
    assert "10 language_share" in empty.output
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["examples"] == 0


def test_bad_input(in_testbed, tmp_path):
    unknown = runner.invoke(app, ["data", "build", "-l", "xx", "--out", str(tmp_path / "a")])
    assert unknown.exit_code == 2 and "'xx'" in unknown.output
    schema = runner.invoke(
        app, ["data", "build", "-l", "sw", "--schema", "mixd", "--out", str(tmp_path / "b")]
    )
    assert schema.exit_code == 2 and "schema" in schema.output
    bad = tmp_path / "bad.jsonl"
    good = {
        "question": "Juma ana pipi 1.",
        "answer": 1,
        "cot_en": "Juma has 1 candy. The answer is 1.",
    }
    bad.write_text(json.dumps(good) + "\n{oops\n")
    broken = runner.invoke(
        app, ["data", "build", "-l", "sw", "--source", str(bad), "--out", str(tmp_path / "c")]
    )
    assert broken.exit_code == 2 and f"{bad}:2" in broken.output
    skipped = runner.invoke(
        app,
        [
            "data",
            "build",
            "-l",
            "sw",
            "--source",
            str(bad),
            "--schema",
            "english-cot",
            "--skip-bad",
            "--out",
            str(tmp_path / "s"),
        ],
    )
    assert f"{bad}:2" in skipped.output and "skipped 1 malformed" in skipped.output
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"question": "Swali?", "answer": 1}) + "\n")
    no_trace = runner.invoke(
        app, ["data", "build", "-l", "sw", "--source", str(bare), "--out", str(tmp_path / "d")]
    )
    assert no_trace.exit_code == 2 and "--teacher" in no_trace.output
    for row, words in (
        ({"question": None, "answer": 1}, "'question' must be a non-empty string"),
        ([1, 2], "not a JSON object"),
    ):
        broken_row = tmp_path / "row.jsonl"
        broken_row.write_text(json.dumps(row) + "\n")
        result = runner.invoke(
            app,
            [
                "data",
                "build",
                "-l",
                "sw",
                "--source",
                str(broken_row),
                "--out",
                str(tmp_path / "r"),
            ],
        )
        assert result.exit_code == 2 and words in result.output, result.output
    twice = tmp_path / "twice.jsonl"
    twice.write_text(2 * (json.dumps({"id": "a", **good}) + "\n"))
    result = runner.invoke(
        app, ["data", "build", "-l", "sw", "--source", str(twice), "--out", str(tmp_path / "t")]
    )
    assert result.exit_code == 2 and "id 'a' comes twice" in result.output
    typo = runner.invoke(
        app, ["data", "build", "-l", "sw", "--decontaminate", "mgms", "--out", str(tmp_path / "m")]
    )
    assert typo.exit_code == 2 and "cannot decontaminate against 'mgms'" in typo.output
    # another kind of folder: refused even with --overwrite
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")
    other = runner.invoke(
        app, ["data", "build", "-l", "sw", "--out", str(tmp_path / "run"), "--overwrite"]
    )
    assert other.exit_code == 2 and "not a dataset; choose another --out" in other.output


@pytest.mark.slow
def test_a_teacher_writes_missing_traces_and_its_outputs_are_filtered(in_testbed, tmp_path):
    """The tiny testbed base as a teacher: outputs without a correct answer are counted and
    dropped; generations are cached and a rerun generates nothing."""
    rows = [
        {"id": f"q{i}", "question": f"Juma ana pipi {i}. Ana pipi ngapi?", "answer": i}
        for i in range(4)
    ]
    source = tmp_path / "sw.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = [
        "data",
        "build",
        "-l",
        "sw",
        "--source",
        str(source),
        "--schema",
        "mixed",
        "--teacher",
        str(in_testbed / "base"),
        "--samples",
        "2",
        "--temperature",
        "0.8",
        "--max-new-tokens",
        "16",
        "--out",
        str(tmp_path / "t"),
        "--decontaminate",
        "",
        "--no-progress",
    ]
    result = runner.invoke(app, args)
    # a tiny teacher rarely answers right: either some examples, or the clear empty error
    assert result.exit_code in (0, 2), result.output
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    counts = summary["languages"]["sw"]
    # every sample is checked until one passes: at least one per item, at most two
    assert 4 <= counts["candidates"] <= 8
    assert counts["kept"] + sum(counts["dropped"].values()) == counts["candidates"]
    assert counts["dropped"]["no_answer"] + counts["dropped"]["wrong_answer"] > 0
    cached = (tmp_path / "t" / "teacher.jsonl").read_text().splitlines()
    assert len(cached) == 4 and all(len(json.loads(c)["outputs"]) == 2 for c in cached)
    # the same build again generates nothing; another teacher setting generates again
    if result.exit_code == 2:  # an empty build is rerun as it is
        runner.invoke(app, args)
        assert len((tmp_path / "t" / "teacher.jsonl").read_text().splitlines()) == 4
    hotter = [*args[:-5], "--overwrite", *args[-5:]]
    hotter[hotter.index("0.8")] = "0.9"
    runner.invoke(app, hotter)
    cached = (tmp_path / "t" / "teacher.jsonl").read_text().splitlines()
    assert len(cached) == 8
    assert {json.loads(c)["teacher"]["temperature"] for c in cached} == {0.8, 0.9}


def test_decontamination_in_every_script(shared_data):
    """Every MGSM and PolyMath question is caught against its own benchmark (Bengali and Telugu
    words keep their vowel signs; Thai, Chinese and Japanese count letters), and an English
    question inside a Thai response is caught too."""
    from polyglot.data import load_benchmark

    for name in ("mgsm", "polymath-low"):
        dataset = load_benchmark(name, "all")
        check = Decontaminator(
            [dataset.get(i, lang).question for lang in dataset.languages for i in dataset.ids]
        )
        for lang in dataset.languages:
            found = sum(check.hit(dataset.get(i, lang).question) for i in dataset.ids)
            # a handful of Chinese/Japanese questions are shorter than the 26-letter window
            assert found >= len(dataset.ids) - 1, (name, lang, found)
    mgsm = load_benchmark("mgsm", "en,th,bn")
    check = Decontaminator([mgsm.get("5", "en").question])
    assert check.hit("มานีมีดินสอ 14 แท่ง " + mgsm.get("5", "en").question + " คำตอบคือ ๕๕")
    assert not check.hit(mgsm.get("6", "en").question)
    bengali = Decontaminator([mgsm.get("7", "bn").question])
    assert bengali.hit("প্রশ্ন: " + mgsm.get("7", "bn").question)
    assert not bengali.hit(mgsm.get("8", "bn").question)


def test_each_response_filter(tmp_path):
    """Answer, cue, length, degenerate output (a loop, two thinking blocks, an English final
    answer where the target's was due) and the band, one response each."""
    from polyglot.data.build import Item, _check_response

    item = Item("1", "sw", "Amani ana penseli 14. Ana ngapi?", 8.0)
    config = DataBuildConfig(languages=["sw"], schema="mixed", band=(0.05, 0.9), out="-")
    cases = {
        "Amani has 14 penseli. 14 - 6 = 8. Jibu ni 8.": None,
        "Amani has 14 penseli. 14 - 6 = 8.": "no_cue",
        "Amani has some penseli. Nothing else here.": "no_answer",
        "Amani has 14 penseli. 14 - 5 = 9. Jibu ni 9.": "wrong_answer",
        "Jibu ni 8.": "length",
        "so so so so so so so so Amani has 14 penseli. Jibu ni 8.": "degenerate",
        "<think>a</think><think>b</think> Amani has 14 penseli. Jibu ni 8.": "degenerate",
        "Amani has 14 penseli. 14 - 6 = 8. The answer is 8.": "degenerate",
        "Tom has 14 pencils. 14 - 6 = 8. He keeps them all. Jibu ni 8.": None,
    }
    narrow = DataBuildConfig(languages=["sw"], schema="mixed", band=(0.5, 0.9), out="-")
    for response, expected in cases.items():
        assert _check_response(response, item, config, None) == expected, response
    assert (
        _check_response(
            "Tom has 14 pencils. 14 - 6 = 8. He keeps them all. Jibu ni 8.", item, narrow, None
        )
        == "language_share"
    )


def test_a_users_own_files_are_never_replaced(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.jsonl").write_text('{"mine": 1}\n')
    (mine / "README.md").write_text("my notes\n")
    for extra in ([], ["--overwrite"]):
        result = runner.invoke(
            app, ["data", "build", "-l", "sw", "--limit", "2", "--out", str(mine), *extra]
        )
        assert result.exit_code == 2
    assert (mine / "data.jsonl").read_text() == '{"mine": 1}\n'
    assert (mine / "README.md").read_text() == "my notes\n"
