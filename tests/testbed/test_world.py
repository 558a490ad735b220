"""The testbed generator: parallel, correct, every language, three CoTs that extract."""

from __future__ import annotations

import json
import random
import re
from statistics import mean

import pytest

from polyglot.data import load_benchmark
from polyglot.detect.language_id import detect_language, language_shares
from polyglot.files import read_jsonl
from polyglot.packs import load_pack
from polyglot.testbed.build import SPLITS, WorldConfig, build_world
from polyglot.testbed.world import DEFAULT_LANGUAGES, render, sample_problem, template_languages
from polyglot.text.answers import extract_answer

CONFIG = WorldConfig(train=60, dev=8, test=30, general_documents=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("testbed")
    build_world(root / "world", CONFIG)
    return root


def _recompute(ops, start):
    value = start
    for op, k in ops:
        value = {"add": value + k, "subtract": value - k}.get(op, value * k)
    return value


def test_at_least_six_languages_in_four_scripts():
    assert len(DEFAULT_LANGUAGES) >= 6 and "en" in DEFAULT_LANGUAGES
    assert set(DEFAULT_LANGUAGES) <= set(template_languages())
    scripts = {load_pack(lang).scripts[0] for lang in DEFAULT_LANGUAGES}
    assert len(scripts) >= 4


def test_problems_are_correct_and_within_range():
    rng = random.Random(3)
    for i in range(500):
        problem = sample_problem(rng, str(i))
        assert 2 <= len(problem.ops) <= 3
        assert _recompute(problem.ops, problem.start) == problem.answer
        assert all(1 <= v <= 99 for v in problem.values)


def test_splits_are_parallel_and_disjoint(world):
    signatures = {}
    for split in SPLITS:
        per_lang = {
            lang: read_jsonl(world / "world" / split / f"{lang}.jsonl")
            for lang in DEFAULT_LANGUAGES
        }
        ids = [r["id"] for r in per_lang["en"]]
        assert len(ids) == getattr(CONFIG, split) and len(set(ids)) == len(ids)
        for lang, rows in per_lang.items():
            assert [r["id"] for r in rows] == ids
            assert [r["answer"] for r in rows] == [r["answer"] for r in per_lang["en"]]
            assert all(r["lang"] == lang and r["question"] for r in rows)
        signatures[split] = {(r["question"]) for r in per_lang["en"]}
    assert not signatures["train"] & signatures["test"]
    assert not signatures["train"] & signatures["dev"]
    assert not signatures["dev"] & signatures["test"]


def test_answers_recompute_from_the_operations(world):
    for row in read_jsonl(world / "world" / "test" / "en.jsonl"):
        first = int(re.search(r"\d+", row["question"]).group())  # the start count
        assert _recompute(row["ops"], first) == row["answer"]
        # every equation in the chain of thought is right, and they chain up to the answer
        equations = re.findall(r"(\d+) ([-+*]) (\d+) = (\d+)", row["cot_en"])
        assert len(equations) == len(row["ops"])
        value = first
        for a, op, k, b in equations:
            assert int(a) == value
            value = {"+": int(a) + int(k), "-": int(a) - int(k), "*": int(a) * int(k)}[op]
            assert value == int(b)
        assert value == row["answer"]


def test_deterministic_by_seed(tmp_path):
    build_world(tmp_path / "a", CONFIG)
    build_world(tmp_path / "b", CONFIG)
    for lang in ("en", "bn"):
        assert (tmp_path / "a" / "test" / f"{lang}.jsonl").read_bytes() == (
            tmp_path / "b" / "test" / f"{lang}.jsonl"
        ).read_bytes()
    other = build_world(tmp_path / "c", CONFIG.model_copy(update={"seed": 1}))
    assert other["counts"] == {"train": 60, "dev": 8, "test": 30}
    assert (tmp_path / "c" / "test" / "en.jsonl").read_bytes() != (
        tmp_path / "a" / "test" / "en.jsonl"
    ).read_bytes()


@pytest.mark.parametrize("lang", DEFAULT_LANGUAGES)
def test_every_cot_ends_with_the_pack_cue_and_extracts_to_gold(world, lang):
    pack = load_pack(lang)
    cue_start = pack.answer_cue.split("{n}")[0].strip()
    english_cue = load_pack("en").answer_cue.split("{n}")[0].strip()
    for row in read_jsonl(world / "world" / "test" / f"{lang}.jsonl"):
        for field, cue, read_as in (
            ("cot_native", cue_start, lang),
            ("cot_mixed", cue_start, lang),
            ("cot_en", english_cue, "en"),
        ):
            text = row[field]
            last = text.rsplit(cue, 1)
            assert len(last) == 2 and len(last[1]) <= 12, (field, text)
            answer = extract_answer(text, read_as)
            assert answer.rule == "cue" and answer.value == row["answer"], (field, text, answer)


@pytest.mark.parametrize("lang", DEFAULT_LANGUAGES)
def test_questions_are_in_their_language(world, lang):
    rows = read_jsonl(world / "world" / "test" / f"{lang}.jsonl")
    right = sum(detect_language(r["question"]).lang == lang for r in rows)
    assert right / len(rows) >= 0.9


@pytest.mark.parametrize("lang", [lang for lang in DEFAULT_LANGUAGES if lang != "en"])
def test_mixed_cot_language_ratio_is_within_its_band(world, lang):
    low, high = CONFIG.mixed_band
    shares = [
        language_shares(r["cot_mixed"], short_candidates=[lang, "en"]).get(lang, 0.0)
        for r in read_jsonl(world / "world" / "test" / f"{lang}.jsonl")
    ]
    assert low <= mean(shares) <= high
    inside = sum(low <= s <= high for s in shares) / len(shares)
    assert inside >= 0.9, shares


# fastText's lite model reads most short Swahili sentences ("Tafadhali weka biskuti mezani.")
# as English or Indonesian even when the pool is only {sw, en}; measured here, not hidden.
SHORT_SENTENCE_SHORTFALL = {"sw": 0.2}


def test_general_text_is_in_its_language(world):
    for lang in DEFAULT_LANGUAGES:
        rows = read_jsonl(world / "world" / "general" / f"{lang}.jsonl")
        docs = [r for r in rows if r["kind"] == "text"]  # translation pairs are half English
        assert len(docs) == CONFIG.general_documents
        pairs = len(rows) - len(docs)
        assert pairs == (0 if lang == "en" else 2 * CONFIG.translation_pairs)
        shares = [
            language_shares(d["text"], short_candidates=[lang, "en"]).get(lang, 0.0) for d in docs
        ]
        assert mean(shares) > SHORT_SENTENCE_SHORTFALL.get(lang, 0.8), (lang, shares)


def test_the_testbed_benchmark_loads_the_world(world, monkeypatch):
    monkeypatch.setenv("POLYGLOT_TESTBED_DIR", str(world))
    dataset = load_benchmark("testbed", "all")
    assert dataset.languages == list(DEFAULT_LANGUAGES)
    assert len(dataset) == CONFIG.test
    assert len(dataset.exemplars["bn"]) == CONFIG.dev
    row = json.loads((world / "world" / "test" / "bn.jsonl").read_text().splitlines()[0])
    assert dataset.get(row["id"], "bn").question == row["question"]


def test_a_missing_testbed_says_how_to_build_it(tmp_path, monkeypatch):
    from polyglot.config import ConfigError

    monkeypatch.setenv("POLYGLOT_TESTBED_DIR", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="polyglot testbed build"):
        load_benchmark("testbed", "en")


def test_rendering_one_problem_in_every_language():
    problem = sample_problem(random.Random(0), "x")
    for lang in DEFAULT_LANGUAGES:
        rendered = render(problem, lang)
        assert rendered.answer == problem.answer and rendered.question
