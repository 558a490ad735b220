"""``polyglot eval --strategy translate-all`` on the tiny testbed: which prompt each item gets,
the translation cache, translation quality, and refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError
from polyglot.translate import TranslationCache, chrf, load_translator

runner = CliRunner()


def _eval(testbed, out, *extra):
    return runner.invoke(
        app,
        ["eval", "--model", str(testbed / "base"), "--benchmark", "testbed",
         "--languages", "en,sw", "--limit", "3", "--max-new-tokens", "12", "--out", str(out),
         "--no-progress", *extra],
    )  # fmt: skip


def _records(out):
    lines = (out / "generations.jsonl").read_text().splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


def test_translate_all_solves_each_item_from_its_english(in_testbed, tmp_path):
    out = tmp_path / "ta"
    result = _eval(in_testbed, out, "--strategy", "translate-all", "--translator", "reference")
    assert result.exit_code == 0, result.output
    records = _records(out)
    english = {r["id"]: r for r in records.values() if r["lang"] == "en"}
    for record in records.values():
        if record["lang"] == "sw":
            assert record["translated"] and record["solved_in"] == "en"
            assert record["translation"] == record["reference_en"]
            # the English item's own prompt: the same question, the English labels
            assert record["prompt"] == english[record["id"]]["prompt"]
        else:
            assert not record["translated"]
    results = json.loads((out / "results.json").read_text())
    assert results["languages"]["sw"]["translation"] == {
        "rate": 1.0, "translated": 3, "chrf": 100.0,
        "translated_ids": sorted(r["id"] for r in records.values() if r["lang"] == "sw"),
    }  # fmt: skip
    assert results["run"]["config"]["strategy"] == "translate-all"
    cache = (out / "translations.jsonl").read_text().splitlines()
    head = json.loads(cache[0])["translator"]
    assert head["name"] == "reference" and len(head["texts"]) == 12 and len(cache) == 4


def test_prefill_keeps_the_native_question(in_testbed, tmp_path):
    out = tmp_path / "pf"
    result = _eval(in_testbed, out, "--strategy", "translate-all", "--translator", "reference",
                   "--inject", "prefill")  # fmt: skip
    assert result.exit_code == 0, result.output
    for record in _records(out).values():
        if record["lang"] == "sw":
            assert record["solved_in"] == "sw"
            assert f'I understand the question as: "{record["reference_en"]}"' in record["prompt"]
            assert record["prompt"].rstrip().endswith(f'"{record["reference_en"]}"')


def test_native_runs_record_no_strategy(in_testbed, tmp_path):
    """Runs made before strategies existed still resume: the defaults are not recorded."""
    out = tmp_path / "native"
    assert _eval(in_testbed, out).exit_code == 0
    config = json.loads((out / "run.json").read_text())["config"]
    assert not {"strategy", "translator", "inject"} & set(config)
    assert "translated" not in next(iter(_records(out).values()))


def test_noisy_reference_is_seeded_and_scored():
    english = {"1": "Ana has 3 apples and buys 4 more apples at the market today"}
    items = [("sw/1", "sw", "x")]
    clean = load_translator("noisy-reference:0", {"en": english}).translate(items)
    assert clean == {"sw/1": english["1"]}
    a = load_translator("noisy-reference:0.5", {"en": english}, seed=1).translate(items)
    b = load_translator("noisy-reference:0.5", {"en": english}, seed=1).translate(items)
    c = load_translator("noisy-reference:0.5", {"en": english}, seed=2).translate(items)
    assert a == b and a != c and a["sw/1"] != english["1"]
    assert chrf([english["1"]], [english["1"]]) == 100.0
    assert chrf(list(a.values()), [english["1"]]) < 100.0


def test_the_cache_resumes_and_refuses_another_translator(tmp_path):
    english = {"1": "one two", "2": "three four"}
    calls = []

    class Counting:
        def __init__(self):
            self.inner = load_translator("reference", {"en": english})

        def identity(self):
            return self.inner.identity()

        def translate(self, items, target="en"):
            calls.append([k for k, _, _ in items])
            return self.inner.translate(items)

    path = tmp_path / "translations.jsonl"
    translator = Counting()
    TranslationCache(path, translator.identity()).translate(translator, [("sw/1", "sw", "a")])
    got = TranslationCache(path, translator.identity()).translate(
        translator, [("sw/1", "sw", "a"), ("sw/2", "sw", "b")]
    )
    assert got == {"sw/1": "one two", "sw/2": "three four"}
    assert calls == [["sw/1"], ["sw/2"]]  # only the missing item the second time
    with pytest.raises(ConfigError, match="another translator"):
        TranslationCache(path, {"name": "noisy-reference", "share": 0.3, "seed": 0})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--strategy", "translate-all"], "needs --translator"),
        (["--strategy", "translate-all", "--translator", "google"], "google: one of clp, "),
        (["--strategy", "translate-all", "--translator", "noisy-reference:2"], "share"),
        (
            ["--translator", "reference"],
            "--translator goes with --strategy clc, selective or translate-all, not native",
        ),
        (["--strategy", "selectiv", "--translator", "reference"], "strategy"),
    ],
)
def test_bad_strategy_settings_are_one_line(in_testbed, tmp_path, extra, message):
    result = _eval(in_testbed, tmp_path / "bad", *extra)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_gap_attribution_counts_by_hand():
    from polyglot.strategies.selective.attribution import gap_attribution

    def rec(lang, i, correct):
        return {"key": f"{lang}/{i}", "lang": lang, "id": str(i), "correct": correct}

    native = {r["key"]: r for r in [
        rec("en", 1, True), rec("en", 2, True), rec("en", 3, False), rec("en", 4, True),
        rec("sw", 1, False), rec("sw", 2, False), rec("sw", 3, False), rec("sw", 4, True),
    ]}  # fmt: skip
    understood = {r["key"]: r for r in [
        rec("sw", 1, True), rec("sw", 2, False), rec("sw", 3, True), rec("sw", 4, True),
    ]}  # fmt: skip
    # gap: sw/1 and sw/2 (right in English, wrong natively); sw/3 is wrong in English too
    assert gap_attribution(native, understood) == {
        "sw": {"gap": 2, "understanding": 1, "reasoning": 1,
               "understanding_share": 0.5, "reasoning_share": 0.5}
    }  # fmt: skip


def test_the_comparison_attributes_the_gap(in_testbed, tmp_path):
    native, understood = tmp_path / "native", tmp_path / "understood"
    assert _eval(in_testbed, native).exit_code == 0
    extra = ["--strategy", "translate-all", "--translator", "reference"]
    assert _eval(in_testbed, understood, *extra).exit_code == 0
    result = runner.invoke(app, ["report", str(native), str(understood), "--out",
                                 str(tmp_path / "cmp")])  # fmt: skip
    assert result.exit_code == 0, result.output
    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    table = comparison["attribution"]["understood"]["sw"]
    assert table["gap"] == table["understanding"] + table["reasoning"]
    assert "Gap attribution" in (tmp_path / "cmp" / "comparison.html").read_text()


def test_attribution_needs_a_native_run_with_english(in_testbed, tmp_path):
    from polyglot.evaluate import compare_runs

    understood = tmp_path / "understood"
    noisy = tmp_path / "noisy"
    assert _eval(in_testbed, understood, "--strategy", "translate-all", "--translator",
                 "reference").exit_code == 0  # fmt: skip
    assert _eval(in_testbed, noisy, "--strategy", "translate-all", "--translator",
                 "noisy-reference:0.3").exit_code == 0  # fmt: skip
    comparison = compare_runs([noisy, understood])
    assert comparison["attribution"] == {}
    # each translating run's chrF beside its gain over the first run
    assert comparison["translations"]["understood"]["sw"]["chrf"] == 100.0
    assert comparison["translations"]["noisy"]["sw"]["gain_points"] == 0.0
    native = tmp_path / "native"
    assert _eval(in_testbed, native).exit_code == 0
    only_native_en = tmp_path / "native-sw"
    assert _eval(in_testbed, only_native_en, "--languages", "sw").exit_code == 0
    # wherever the native run is among the compared ones, and only it
    found = compare_runs([noisy, understood, only_native_en, native])["attribution"]
    assert set(found) == {"understood"}
    assert found == compare_runs([native, understood])["attribution"]


def test_self_translation_prompts_the_model_with_parallel_examples(in_testbed, tmp_path):
    from types import SimpleNamespace

    from polyglot.translate.self_translate import SelfTranslator

    shots = {
        "sw": [SimpleNamespace(question=f"Swali {i}") for i in range(3)],
        "en": [SimpleNamespace(question=f"Question {i}") for i in range(3)],
    }

    class Echo:  # a backend that answers every prompt with its last line's length
        def describe(self):
            return {"model": "m", "fingerprint": "f"}

        def batches(self, requests):
            self.requests = requests
            return [requests]

        def generate(self, batches):
            for _, batch in batches:
                yield [SimpleNamespace(key=r.key, outputs=[" Ana has 3 apples.\n"]) for r in batch]

    backend = Echo()
    translator = SelfTranslator(backend, shots)
    assert translator.translate([("sw/1", "sw", "Ana ana matufaha 3.")]) == {
        "sw/1": "Ana has 3 apples."
    }
    prompt = backend.requests[0].prompt
    assert prompt.startswith("Swahili: Swali 0\nEnglish: Question 0\n\n")
    assert prompt.endswith("Swahili: Ana ana matufaha 3.\nEnglish:")
    assert backend.requests[0].stop == ["\n"]
    identity = translator.identity()
    assert {k: identity[k] for k in ("name", "shots", "model", "fingerprint")} == {
        "name": "self", "shots": 3, "model": "m", "fingerprint": "f"
    }  # fmt: skip
    other = SelfTranslator(backend, {**shots, "sw": shots["sw"][::-1]}).identity()
    assert other["examples"] != identity["examples"]  # other few-shot examples: another cache
    with pytest.raises(ConfigError, match="parallel few-shot examples"):
        SelfTranslator(backend, {"sw": shots["sw"][:1], "en": shots["en"]}).prompt("sw", "x")
    out = tmp_path / "self"
    result = _eval(in_testbed, out, "--strategy", "translate-all", "--translator", "self")
    assert result.exit_code == 0, result.output
    head = json.loads((out / "translations.jsonl").read_text().splitlines()[0])
    assert head["translator"]["name"] == "self"
    assert (
        json.loads((out / "results.json").read_text())["languages"]["sw"]["translation"]["chrf"]
        is not None
    )


def test_clc_votes_deterministically():
    from polyglot.strategies.clc import vote

    order = ["sw", "en", "de", "ko"]
    assert vote("sw", {"sw": 1.0, "en": 2.0, "de": 2.0, "ko": 3.0}, order) == 2.0  # majority
    assert vote("sw", {"sw": 1.0, "en": 2.0, "de": None}, order) == 1.0  # tie: its own
    assert vote("ko", {"sw": 1.0, "en": 2.0, "ko": 3.0}, order) == 3.0
    assert vote("sw", {"sw": None, "en": 2.0, "de": 5.0}, order) == 2.0  # tie: pivots' order
    assert vote("sw", {"sw": None, "en": None}, order) is None


def test_clc_runs_over_the_pivots_versions(in_testbed, tmp_path):
    out = tmp_path / "clc"
    result = _eval(in_testbed, out, "--strategy", "clc", "--pivots", "en")
    assert result.exit_code == 0, result.output
    records = _records(out)
    assert {r["lang"] for r in records.values()} == {"en", "sw"}
    native = _records(out / "native")
    for key, record in records.items():
        assert set(record["votes"]) == {record["lang"], "en"}
        assert record["own_answer"] == native[key]["answer"]
        assert record["votes"]["en"] == native[f"en/{record['id']}"]["answer"]
    bad = _eval(in_testbed, tmp_path / "bad", "--strategy", "clc", "--translator", "reference")
    assert bad.exit_code == 2 and "name them (e.g. --pivots en,de)" in bad.output
    bad = _eval(in_testbed, tmp_path / "bad2", "--pivots", "en")
    assert bad.exit_code == 2 and "--pivots goes with --strategy clc" in bad.output
    bad = _eval(in_testbed, tmp_path / "bad3", "--strategy", "clc", "--translator", "reference",
                "--pivots", "en", "--shots", "1")  # fmt: skip
    assert bad.exit_code == 2 and "zero-shot" in bad.output

    # the same pivots from the reference translator: each item's English, solved zero-shot as
    # an item of a custom benchmark, gives the same answers as the benchmark's own English
    translated = tmp_path / "clc-ref"
    result = _eval(in_testbed, translated, "--strategy", "clc", "--translator", "reference",
                   "--pivots", "en")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (translated / "native" / "generations.jsonl").read_text().count('"lang": "en"') > 3
    for key, record in _records(translated).items():
        assert record["votes"] == records[key]["votes"]
        assert record["answer"] == records[key]["answer"]
    assert (translated / "pivots" / "sw" / "en" / "translations.jsonl").is_file()
    assert not (translated / "pivots" / "en").exists()  # English items have no other pivot


@pytest.mark.parametrize("restates", [True, False])
def test_clsp_votes_over_the_models_restatements(in_testbed, tmp_path, monkeypatch, restates):
    from polyglot.translate import self_translate

    generate = self_translate._generate

    def restating(backend, requests, spent=None):  # the tiny model writes nothing: restate
        texts = generate(backend, requests, spent)
        return {k: f"Tom has {len(k)} apples. How many?" for k in texts} if restates else texts

    monkeypatch.setattr(self_translate, "_generate", restating)
    out = tmp_path / "clsp"
    result = _eval(in_testbed, out, "--strategy", "clsp", "--pivots", "en,de")
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["strategy"] == "clc" and run["clc"]["translator"] == "clp"
    restated = {}
    for pivot in ("en", "de"):
        lines = (out / "pivots" / "sw" / pivot / "translations.jsonl").read_text().splitlines()
        assert json.loads(lines[0])["translator"]["name"] == "clp"
        restated[pivot] = {r["key"]: r["text"] for r in map(json.loads, lines[1:])}
    for record in _records(out).values():
        if record["lang"] != "sw":
            continue
        for pivot in ("en", "de"):
            text = restated[pivot][record["key"]]
            if not text.strip():  # nothing restated: no vote
                assert pivot not in record["votes"]
                continue
            pivot_record = _records(out / "pivots" / "sw" / pivot / "run")[
                f"{pivot}/{record['id']}"
            ]
            assert text in pivot_record["prompt"]  # the restatement, as the pivot's question
            assert record["votes"][pivot] == pivot_record["answer"]
        assert len(record["votes"]) == (3 if restates else 1)
    cost = json.loads((out / "results.json").read_text())["cost"]
    assert cost["translations"] == 3 * 3  # sw -> en, sw -> de, en -> de: the model's own
    pivot_items = 9 if restates else 0
    assert cost["generations"] == 6 + pivot_items  # own languages natively, then the pivots


def test_clp_and_self_translate_are_translate_all_shorthands(in_testbed, tmp_path):
    from polyglot.evaluate import EvalConfig

    config = EvalConfig(model="m", strategy="clp")
    assert (config.strategy, config.translator) == ("translate-all", "clp")
    config = EvalConfig(model="m", strategy="self-translate")
    assert (config.strategy, config.translator) == ("translate-all", "self")
    with pytest.raises(ValueError, match="uses --translator self"):
        EvalConfig(model="m", strategy="self-translate", translator="reference")
    out = tmp_path / "clp"
    result = _eval(in_testbed, out, "--strategy", "clp")
    assert result.exit_code == 0, result.output
    head = json.loads((out / "translations.jsonl").read_text().splitlines()[0])
    assert head["translator"]["name"] == "clp"
    record = next(r for r in _records(out).values() if r["lang"] == "sw")
    assert record["solved_in"] == "en" and record["prompt"].startswith("Question: ")


def test_clc_pivots_follow_the_runs_settings(in_testbed, tmp_path):
    out = tmp_path / "clc"
    first = _eval(in_testbed, out, "--strategy", "clc", "--translator", "noisy-reference:0.1",
                  "--pivots", "en")  # fmt: skip
    assert first.exit_code == 0, first.output
    cache = out / "pivots" / "sw" / "en" / "translations.jsonl"
    assert json.loads(cache.read_text().splitlines()[0])["translator"]["share"] == 0.1
    run = json.loads((out / "run.json").read_text())
    assert 0 < run["clc"]["chrf"]["sw"]["en"] < 100  # against the benchmark's own English
    other = ["--strategy", "clc", "--translator", "noisy-reference:0.5", "--pivots", "en"]
    refused = _eval(in_testbed, out, *other)
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    replaced = _eval(in_testbed, out, *other, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(cache.read_text().splitlines()[0])["translator"]["share"] == 0.5


def test_the_models_own_translations_name_how_they_were_generated(in_testbed, tmp_path):
    out = tmp_path / "clp"
    assert _eval(in_testbed, out, "--strategy", "clp").exit_code == 0
    head = json.loads((out / "translations.jsonl").read_text().splitlines()[0])["translator"]
    assert head["max_new_tokens"] == 12 and head["temperature"] == 0 and "seed" in head


def test_runs_pair_only_when_generated_the_same_way():
    from polyglot.strategies.selective.curve import matches, same_generation

    def results(**config):
        return {"run": {"config": {"model": "m", "max_new_tokens": 160, **config},
                        "model": {"fingerprint": "f"}}}  # fmt: skip

    native = results()
    full = results(strategy="translate-all", translator="reference")
    sel = results(strategy="selective", translator="reference", detector="confidence",
                  budget=0.2, languages=["sw"])  # fmt: skip
    assert same_generation(native, full) and matches(sel, full)
    assert not matches(sel, results(strategy="translate-all", translator="noisy-reference:0.1"))
    assert not matches(sel, results(strategy="translate-all", translator="reference",
                                    max_new_tokens=20))  # fmt: skip
    assert not same_generation(native, results(seed=1))
    other_model = {"run": {**full["run"], "model": {"fingerprint": "g"}}}
    assert not same_generation(native, other_model)


def test_a_translation_of_text_that_changed_is_made_again(in_testbed, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for lang in ("en", "sw"):
        rows = (in_testbed / "world" / "test" / f"{lang}.jsonl").read_text().splitlines()[:2]
        (folder / f"{lang}.jsonl").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    args = ["eval", "--model", str(in_testbed / "base"), "--benchmark", "custom", "--data",
            f"{folder}/{{lang}}.jsonl", "--columns", "question=question,answer=answer,id=id",
            "--languages", "en,sw", "--max-new-tokens", "8", "--strategy", "translate-all",
            "--translator", "reference", "--out", str(out), "--no-progress"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    english = [json.loads(x) for x in (folder / "en.jsonl").read_text().splitlines()]
    english[0]["question"] = "Tom has 7 apples. How many apples does Tom have?"
    (folder / "en.jsonl").write_text("\n".join(json.dumps(r) for r in english) + "\n")
    assert runner.invoke(app, args).exit_code == 2  # the data changed: refused
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    first = _records(out)[f"sw/{english[0]['id']}"]
    assert first["translation"] == english[0]["question"] == first["reference_en"]
