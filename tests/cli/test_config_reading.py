"""How commands read settings (polyglot/cli/config.py): file, overrides, flags; defaults shown."""

import pytest

from polyglot.cli.config import default_of, settings_from, with_default
from polyglot.config import ConfigError, merge_overrides, parse_overrides
from polyglot.data.build import DataBuildConfig
from polyglot.evaluate import EvalConfig


def test_file_then_overrides_then_flags(tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text("model: m\nlanguages: [en, sw]\nmax_new_tokens: 64\n")
    values, source = settings_from(
        config, ["languages.1=de", "limit=5"], {"out": "runs/x", "seed": None}
    )
    assert values == {"model": "m", "languages": ["en", "de"], "max_new_tokens": 64,
                      "limit": 5, "out": "runs/x"}  # fmt: skip
    assert source == f"{config} (with overrides)"


def test_a_flag_and_an_override_of_one_key_must_agree():
    with pytest.raises(ConfigError, match="max_new_tokens is given twice"):
        settings_from(None, ["max_new_tokens=20"], {"max_new_tokens": 16})
    values, _ = settings_from(None, ["max_new_tokens=16"], {"max_new_tokens": 16})
    assert values == {"max_new_tokens": 16}


def test_list_indexes_anywhere_and_out_of_range():
    recipe = {"merges": [{"method": "soup"}, {"method": "layer-swap", "bottom": 1}]}
    merged = merge_overrides(recipe, parse_overrides(["merges.1.bottom=2"]))
    assert merged["merges"][1] == {"method": "layer-swap", "bottom": 2}
    with pytest.raises(ConfigError, match="merges has 2 item"):
        merge_overrides(recipe, parse_overrides(["merges.5.bottom=2"]))


def test_help_shows_the_config_classes_defaults():
    assert default_of(EvalConfig, "max_new_tokens") == 256
    assert with_default("Length.", EvalConfig, "max_new_tokens") == "Length. \\[default: 256]"
    assert default_of(DataBuildConfig, "band") == (0.05, 0.2)
