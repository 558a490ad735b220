"""Reasoning-model outputs and harder answers: thinking blocks, fractions and mixed numbers,
numerals written as words (the cases of the issue, each checked)."""

from __future__ import annotations

import pytest

from polyglot.evaluate.scoring import score_outputs
from polyglot.text import extract_answer, parse_gold
from polyglot.text.thinking import split_thinking

TAGS = ("<think>", "</think>")


@pytest.mark.parametrize(
    ("text", "lang", "value", "rule"),
    [
        ("The answer is \\boxed{\\frac{3}{4}}", "en", 0.75, "cue"),
        ("\\boxed{\\dfrac{3}{4}}", "en", 0.75, "boxed"),
        ("\\boxed{1\\frac{1}{2}}", "en", 1.5, "boxed"),
        ("\\boxed{3/4}", "en", 0.75, "boxed"),
        ("La respuesta es 3/4.", "es", 0.75, "cue"),
        ("The answer is 1 1/2 cups.", "en", 1.5, "cue"),
        ("答案是二十五。", "zh", 25, "cue_words"),
        ("答案是两千。", "zh", 2000, "cue_words"),
        ("答案是三百。", "zh", 300, "cue_words"),
        ("答えは三十五です。", "ja", 35, "cue_words"),
        ("答えは3万です。", "ja", 30000, "cue"),
        ("答えは1億です。", "ja", 1e8, "cue"),
        ("答えは三万です。", "ja", 30000, "cue_words"),
        ("The answer is twenty-five.", "en", 25, "cue_words"),
        ("The answer is one thousand two hundred thirty-four.", "en", 1234, "cue_words"),
        ("Die Antwort lautet fünfundzwanzig.", "de", 25, "cue_words"),
        ("La réponse est vingt-cinq.", "fr", 25, "cue_words"),
        ("Ответ: двадцать пять.", "ru", 25, "cue_words"),
        ("Die Antwort lautet 18. The answer is twenty-five", "de", 18, "cue"),
        ("Schritt für Schritt ... The answer is twenty-five.", "de", 25, "english_cue_words"),
    ],
)
def test_fractions_and_number_words(text, lang, value, rule):
    answer = extract_answer(text, lang)
    assert answer.value == pytest.approx(value) and answer.rule == rule, answer


@pytest.mark.parametrize(
    "text",
    [
        "She ate 3/4 of the cake and left.",  # a ratio in a sentence is not an answer
        "It was 12/05/2024 when she came",  # nor a date
        "One of the apples was red.",  # number words only right after a cue
    ],
)
def test_ratios_dates_and_stray_words_are_not_answers(text):
    assert not extract_answer(text, "en").found


def test_languages_without_a_converter_read_digits_only():
    assert not extract_answer("Jibu ni ishirini na tano.", "sw").found  # sw: none in num2words
    assert extract_answer("Jibu ni 25.", "sw").value == 25


@pytest.mark.parametrize(
    ("gold", "value"), [("3/4", 0.75), ("1 1/2", 1.5), ("\\frac{3}{4}", 0.75), ("2,125", 2125)]
)
def test_gold_answers_written_as_fractions(gold, value):
    assert parse_gold(gold) == pytest.approx(value)


def test_the_answer_after_the_thinking_wins_over_a_cue_inside_it():
    output = "<think>5 + 3 = 8. So the answer is 8. Wait, doubled: 16.</think>\n\n**16**"
    record = score_outputs([output], "en", 16.0, TAGS)
    assert record["answer"] == 16 and record["correct"] and record["rule"] == "last_number"
    assert record["fidelity_thinking"] and record["fidelity"] is None  # "**16**" has no letters


@pytest.mark.parametrize(
    ("output", "reason", "rule"),
    [
        ("<think>5 + 3 = 8. The answer is 8.", "thinking did not finish", None),
        ("<think>The answer is 8.</think>", "no answer after thinking", None),
        ("<think>no idea</think>", "no answer after thinking", None),
        ("<think>a<think>b</think>c</think> The answer is 8.", None, "cue"),  # nested
        ("<think>a</think> x <think>b</think> The answer is 8.", None, "cue"),  # repeated
        ("Some thinking. </think> The answer is 8.", None, "cue"),  # opened by the prompt
        ("", "empty output", None),
    ],
)
def test_thinking_blocks_every_shape_is_a_counted_reason_or_an_answer(output, reason, rule):
    record = score_outputs([output], "en", 8.0, TAGS)
    assert record["reason"] == reason and record["rule"] == rule, record


def test_a_prompt_that_opens_the_block_makes_an_untagged_output_thinking():
    assert split_thinking("still thinking", TAGS, opened=True).finished is False
    assert split_thinking("The answer is 8.", TAGS).thinking is None


@pytest.mark.parametrize("n", [7, 25, 118, 1000, 2024])
def test_every_pack_with_a_converter_reads_its_own_numerals_after_its_cue(n):
    import cn2an
    from num2words import num2words

    from polyglot.packs import ANSWER_SLOT, all_packs

    covered = 0
    for code, pack in all_packs().items():
        if not pack.number_words:
            continue
        words = cn2an.an2cn(n) if pack.number_words == "cjk" else num2words(n, lang=code)
        text = pack.answer_cues[0].replace(ANSWER_SLOT, words)
        answer = extract_answer(text, pack)
        assert answer.value == n and answer.rule == "cue_words", (code, text, answer)
        covered += 1
    assert covered == 16  # en de fr es pt it ru id vi ko th bn ar te + zh ja


def test_an_answer_only_inside_the_thinking_is_reported_not_scored():
    record = score_outputs(["<think>The answer is 8.</think>"], "en", 8.0, TAGS)
    assert not record["correct"] and record["reason"] == "no answer after thinking"
    assert record["answer_in_thinking"] == {"value": 8.0, "rule": "thinking_cue"}


def test_thinking_only_answers_do_not_vote():
    outputs = ["<think>x</think> The answer is 16.", "<think>The answer is 8.</think>",
               "<think>The answer is 8.</think>"]  # fmt: skip
    record = score_outputs(outputs, "en", 16.0, TAGS)
    assert record["answer"] == 16 and record["correct"]


def test_stop_strings_do_not_end_a_thinking_block():
    from polyglot.generation.base import Request, cut_output

    request = Request("k", "p", ["\n\n", "\nQuestion:"], TAGS, opened=False)
    text = "<think>step one\n\nQuestion: again\n\nstep two</think>\n\n**16**\n\nQuestion: next"
    assert cut_output(text, request) == text[: text.index("**16**") + 6]
    assert cut_output("<think>still\n\nthinking", request) == "<think>still\n\nthinking"


@pytest.mark.parametrize(
    ("text", "lang", "value"),
    [
        ("The answer is \\tfrac{3}{4}", "en", 0.75),
        ("The answer is \\frac34", "en", 0.75),
        ("The answer is 1\\frac{1}{2}", "en", 1.5),
        ("The answer is -3/4.", "en", -0.75),
        ("The answer is −1 1/2.", "en", -1.5),
        ("The answer is -\\frac{3}{4}", "en", -0.75),
        ("\\boxed{-\\frac{3}{4}}", "en", -0.75),
        ("The answer is 16. Wait, I made a mistake. The answer is eight.", "en", 8),
        ("The answer is one of the options, so 12 apples remain.", "en", 12),
        ("The answer is twenty-five apples.", "en", 25),
        # hand-written native spellings (not num2words' own output)
        ("الإجابة هي خمسة وعشرون.", "ar", 25),
        ("A resposta é dezesseis.", "pt", 16),
        ("정답은 구입니다.", "ko", 9),
        ("คำตอบคือ ยี่สิบห้า", "th", 25),
        ("答案是十二个。", "zh", 12),
        ("答えは千です。", "ja", 1000),
    ],
)
def test_signs_latex_variants_last_cue_and_native_spellings(text, lang, value):
    assert extract_answer(text, lang).value == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("\\boxed{\\frac{3}{0}}", "en"),
        ("The answer is 3/4/2024.", "en"),
        ("The answer is 1/0.", "en"),
        ("Half is \\frac{1}{2}", "en"),  # a fraction in the text is no answer
        ("The answer is tenth.", "en"),  # a word that starts like a numeral
        ("The answer is onerous.", "en"),
        ("The answer is seventy-something.", "en"),
        ("The answer is seventy thousand.", "en"),  # beyond what is read: nothing, not 70
        ("The answer is one million.", "en"),
        ("La réponse est un peu plus.", "fr"),
        ("정답은 사과입니다.", "ko"),
        ("คำตอบคือ สามารถ", "th"),
        ("答案是一共有十二个。", "zh"),
        ("答えは十分です。", "ja"),
    ],
)
def test_no_wrong_answer_from_dates_zero_denominators_or_words_that_start_like_numerals(text, lang):
    assert not extract_answer(text, lang).found, extract_answer(text, lang)


@pytest.mark.parametrize(
    ("text", "lang", "value"),
    [
        ("The answer is two thirds.", "en", None),  # fraction words after a numeral
        ("The answer is one more.", "en", None),
        ("La réponse est trois quarts.", "fr", None),
        ("Die Antwort lautet drei Viertel.", "de", None),
        ("답은 이 금액입니다.", "ko", None),  # 이: "this", not 2
        ("答案是一个偶数。", "zh", None),  # 一个: "an", not 1
        ("答えは一つ目です。", "ja", None),
        ("The answer is twenty-five. I hope the answer is clear.", "en", 25),  # an earlier cue
        ("答えは千五百円です。", "ja", 1500),  # chained suffixes
    ],
)
def test_second_review_near_misses(text, lang, value):
    assert extract_answer(text, lang).value == value


def test_a_second_block_after_the_answer_is_cut_like_the_hf_backend_stops():
    from polyglot.generation.base import Request, cut_output

    request = Request("k", "p", ["\n\n"], TAGS)
    text = "<think>a</think>The answer is 16.\n\n<think>b</think>The answer is 8."
    assert cut_output(text, request) == "<think>a</think>The answer is 16."
