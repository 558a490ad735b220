import pytest

from polyglot.config import ConfigError
from polyglot.data import build_prompt, render_prompt


@pytest.fixture(scope="module")
def mgsm_sw(shared_data):
    from polyglot.data import load_benchmark

    return load_benchmark("mgsm", "en,sw,th", limit=2)


def test_native_cot_k_shot(mgsm_sw):
    example = mgsm_sw.get("0", "sw")
    text = render_prompt(build_prompt(example, mgsm_sw, "native-cot", shots=8))
    assert text.count("Swali:") == 9 and text.count("Jibu la Hatua kwa Hatua:") == 9
    assert text.endswith(f"Swali: {example.question}\nJibu la Hatua kwa Hatua:")
    assert "Jibu ni 11." in text


def test_en_cot_pairs_native_questions_with_english_reasoning(mgsm_sw):
    text = render_prompt(build_prompt(mgsm_sw.get("0", "sw"), mgsm_sw, "en-cot", shots=2))
    assert text.count("Swali:") == 3 and text.count("Step-by-Step Answer:") == 3
    assert "The answer is 11." in text and "Jibu ni" not in text


def test_direct_answers_with_the_number(mgsm_sw):
    text = render_prompt(build_prompt(mgsm_sw.get("0", "th"), mgsm_sw, "direct", shots=1))
    assert "คำตอบ: 11\n\n" in text and text.endswith("คำตอบ:")


def test_zero_shot_cot_adds_the_thinking_cue(mgsm_sw):
    prompt = build_prompt(mgsm_sw.get("0", "sw"), mgsm_sw, "native-cot")
    assert prompt.shots == [] and prompt.answer_prefix.endswith("Hebu tufikiri hatua kwa hatua.")
    assert "\nSwali:" in prompt.stop


def test_bad_mode_and_too_many_shots(mgsm_sw):
    example = mgsm_sw.get("0", "sw")
    with pytest.raises(ConfigError, match="unknown prompt mode 'cot'"):
        build_prompt(example, mgsm_sw, "cot")
    with pytest.raises(ConfigError, match="only 8 exemplars"):
        build_prompt(example, mgsm_sw, "native-cot", shots=9)


def test_languages_without_exemplars_need_zero_shot(polymath):
    with pytest.raises(ConfigError, match="no exemplars for 'ko'; use --shots 0"):
        build_prompt(polymath.get("0", "ko"), polymath, "native-cot", shots=2)


def test_chat_template(mgsm_sw):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    prompt = build_prompt(mgsm_sw.get("0", "sw"), mgsm_sw, "native-cot", shots=1)
    text = render_prompt(prompt, tokenizer, chat_template=True)
    assert text.startswith("<|user|>Swali:") and text.count("<|assistant|>") == 2
    assert text.endswith("<|assistant|>Jibu la Hatua kwa Hatua:")
    with pytest.raises(ConfigError, match="needs a tokenizer that has a chat template"):
        render_prompt(prompt, None, chat_template=True)
