import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyglot.packs import all_packs, load_pack
from polyglot.text import extract_answer, is_correct, parse_gold
from polyglot.text.numbers import format_number


@pytest.mark.parametrize(
    ("lang", "output", "value", "rule"),
    [
        # lm-eval-harness's MGSM regexes use [0-9], and its Bengali task uses an English cue
        ("bn", "ধাপে ধাপে উত্তর: ... ১৬ - ৩ - ৪ = ৯। উত্তর হল ১৮।", 18, "cue"),
        # "$18.00" vs gold 18 is scored wrong by string match
        ("en", "She makes 9 * 2 = $18. The answer is $18.00.", 18, "cue"),
        # math-verify reads German "1.000" as 1.0
        ("de", "Also 500 + 500 = 1.000. Die Antwort lautet 1.000.", 1000, "cue"),
        # math-verify misses "答えは18です" and native digits
        ("ja", "16-3-4=9個。9×2=18。答えは18です。", 18, "cue"),
        ("th", "คำตอบคือ ๑๘", 18, "cue"),
        # simple-evals turns "1.000" into 1
        ("es", "La respuesta es 1.000.", 1000, "cue"),
        ("ru", "Ответ: 1\u00a0000", 1000, "cue"),
        ("ko", "따라서 정답은 18입니다.", 18, "cue"),
        ("ar", "الإجابة هي ١٨.", 18, "cue"),
        ("hi", "उत्तर १८ है।", 18, "cue"),
        ("sw", "Jibu ni 11.", 11, "cue"),
        ("en", "so the total is \\boxed{1,234}.", 1234, "boxed"),
        ("en", "\\boxed{\\frac{1}{2}}", 0.5, "boxed"),
        ("de", "Das sind 18 Euro. The answer is 18.", 18, "english_cue"),
        ("sw", "Kwa hiyo... #### 72", 72, "english_cue"),
        ("fr", "Il reste donc 12,5 litres.", 12.5, "last_number"),
        ("en", "20 - 12 = 8", 8, "last_number"),
    ],
)
def test_extract_answer(lang, output, value, rule):
    answer = extract_answer(output, lang)
    assert answer.value == value
    assert answer.rule == rule


def test_the_span_runs_from_cue_to_number():
    assert (
        extract_answer("Also: Die Antwort lautet 1.000.", "de").span == "Die Antwort lautet 1.000"
    )


def test_last_cue_wins_over_restatements():
    assert extract_answer("The answer is 5? No. The answer is 7.", "en").value == 7


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "empty output"),
        (None, "empty output"),
        ("   ", "empty output"),
        ("I don't know.", "no number in output"),
    ],
)
def test_no_answer_says_why(output, reason):
    answer = extract_answer(output, "en")
    assert not answer.found
    assert answer.reason == reason
    assert not is_correct(answer, 0)


def test_mgsm_gold_answers_with_thousands_separators():
    assert parse_gold("2,125") == 2125
    assert parse_gold("114,200") == 114200


def test_every_mgsm_exemplar_extracts_to_its_number(shared_data):
    raw = json.loads((shared_data / "mgsm" / "exemplars.json").read_text(encoding="utf-8"))
    expected = raw["EXEMPLAR_NUMBER_ANSWERS"]
    assert len(raw["MGSM_EXEMPLARS"]) == 11
    for lang, shots in raw["MGSM_EXEMPLARS"].items():
        got = [extract_answer(shots[str(k)]["a"], lang) for k in range(1, 9)]
        assert [a.value for a in got] == expected, lang
        assert {a.rule for a in got} == {"cue"}, lang


def test_every_mgsm_gold_answer_parses(shared_data):
    files = sorted((shared_data / "mgsm").glob("mgsm_*.tsv"))
    assert len(files) == 11
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 250, path
        values = [parse_gold(line.split("\t")[1]) for line in lines]
        assert all(v == int(v) and v >= 0 for v in values), path


@settings(max_examples=300, deadline=None)
@given(
    lang=st.sampled_from(sorted(all_packs())),
    value=st.one_of(
        st.integers(min_value=-(10**9), max_value=10**12),
        st.decimals(
            min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False
        ),
    ),
    separator_index=st.integers(min_value=0, max_value=5),
    cue_index=st.integers(min_value=0, max_value=5),
    native_digits=st.booleans(),
)
def test_property_numbers_in_every_script_and_cue_round_trip(
    lang, value, separator_index, cue_index, native_digits
):
    pack = load_pack(lang)
    value = float(value)
    separators = pack.numbers.thousands_separators
    written = format_number(
        value, pack, thousands_separator=separators[separator_index % len(separators)]
    )
    if not native_digits:
        written = "".join(
            str(pack.numbers.digits.index(c)) if c in pack.numbers.digits else c for c in written
        )
    cue = pack.answer_cues[cue_index % len(pack.answer_cues)]
    output = f"{pack.prompts.step_by_step_answer} 3 + 4 = 7. {cue.replace('{n}', written)}"
    answer = extract_answer(output, pack)
    assert answer.rule == "cue"
    assert is_correct(answer, value), (output, answer)
