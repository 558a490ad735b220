import json

import pytest

from polyglot.config import ConfigError, load_yaml_model
from polyglot.packs import LanguagePack, all_packs, load_pack, parse_languages
from polyglot.resources import shipped_dir

POLYMATH_LANGUAGES = [
    "ar",
    "bn",
    "de",
    "en",
    "es",
    "fr",
    "id",
    "it",
    "ja",
    "ko",
    "ms",
    "pt",
    "ru",
    "sw",
    "te",
    "th",
    "vi",
    "zh",
]


def test_at_least_twenty_packs_cover_polymath_plus_hindi_and_urdu():
    packs = all_packs()
    assert len(packs) >= 20
    assert set(POLYMATH_LANGUAGES) | {"hi", "ur"} <= set(packs)


@pytest.mark.parametrize("code", sorted(p.stem for p in shipped_dir("languages").glob("*.yaml")))
def test_every_pack_is_complete(code):
    pack = load_pack(code)
    assert pack.code == code
    assert len(pack.lexicon) >= 50
    assert "apple" in pack.lexicon and "buy" in pack.lexicon
    assert all("{n}" in cue for cue in pack.answer_cues)
    # the canonical cue writes a number the pack's own extractor reads back
    from polyglot.text import extract_answer

    assert extract_answer(pack.render_answer(1234), pack).value == 1234


def test_pack_prompt_strings_match_mgsm_exemplars(shared_data):
    raw = json.loads((shared_data / "mgsm" / "exemplars.json").read_text(encoding="utf-8"))
    for lang, shots in raw["MGSM_EXEMPLARS"].items():
        pack = load_pack(lang)
        for shot in shots.values():
            assert shot["q"].startswith(pack.prompts.question), (lang, shot["q"][:30])
            assert shot["a"].startswith(pack.prompts.step_by_step_answer), (lang, shot["a"][:30])


def _write_pack(tmp_path, code, edit):
    source = (shipped_dir("languages") / "de.yaml").read_text(encoding="utf-8")
    path = tmp_path / f"{code}.yaml"
    path.write_text(edit(source.replace("code: de", f"code: {code}")), encoding="utf-8")
    return path


def test_malformed_pack_names_file_and_field(tmp_path):
    path = _write_pack(
        tmp_path, "xx", lambda s: s.replace('digits: "0123456789"', 'digits: "012345678"')
    )
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, LanguagePack)
    assert str(path) in str(err.value) and "numbers.digits" in str(err.value)


def test_missing_field_is_named(tmp_path):
    path = _write_pack(tmp_path, "xx", lambda s: s.replace("fasttext_label: de\n", ""))
    with pytest.raises(ConfigError, match="field 'fasttext_label': Field required"):
        load_yaml_model(path, LanguagePack)


def test_unknown_key_suggests_the_closest(tmp_path):
    path = _write_pack(tmp_path, "xx", lambda s: s.replace("answer_cues:", "answer_cue:"))
    with pytest.raises(ConfigError, match="did you mean 'answer_cues'"):
        load_yaml_model(path, LanguagePack)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "xx.yaml"
    path.write_text("code: xx\nname: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"xx.yaml: invalid YAML at line \d"):
        load_yaml_model(path, LanguagePack)


def test_a_new_language_is_a_new_file(tmp_path, monkeypatch):
    _write_pack(tmp_path, "xx", lambda s: s.replace("name: German", "name: Testish"))
    monkeypatch.setenv("POLYGLOT_LANGUAGES_DIR", str(tmp_path))
    assert load_pack("xx").name == "Testish"
    assert "de" in all_packs()


def test_pack_whose_code_differs_from_its_file_name_fails(tmp_path, monkeypatch):
    path = _write_pack(tmp_path, "xx", lambda s: s)
    path.rename(tmp_path / "yy.yaml")
    monkeypatch.setenv("POLYGLOT_LANGUAGES_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="yy.yaml: field 'code'"):
        all_packs()


def test_unknown_language_lists_known_ones():
    with pytest.raises(ConfigError, match="unknown language 'xx'.*add languages/xx.yaml"):
        load_pack("xx")
    assert parse_languages("en, sw") == ["en", "sw"]
    with pytest.raises(ConfigError, match="unknown language"):
        parse_languages("en,qq")
