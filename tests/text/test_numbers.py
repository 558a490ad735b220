import pytest

from polyglot.packs import load_pack
from polyglot.text.numbers import format_number, normalize_text, numbers_equal, parse_number


@pytest.mark.parametrize(
    ("lang", "written", "value"),
    [
        ("de", "1.000", 1000),  # math-verify and simple-evals read this as 1
        ("es", "1.000", 1000),
        ("fr", "1.000", 1000),
        ("it", "1.000", 1000),
        ("pt", "1.000", 1000),
        ("id", "1.000", 1000),
        ("en", "1.000", 1.0),
        ("en", "1,000", 1000),
        ("de", "12,5", 12.5),
        ("fr", "12,5", 12.5),
        ("en", "12,5", 12.5),  # cannot be grouping: models mix conventions
        ("de", "1.5", 1.5),
        ("de", "1.234.567,25", 1234567.25),
        ("en", "1,234,567.25", 1234567.25),
        ("en", "1.000.000", 1000000),
        ("fr", "1\u202f000", 1000),  # narrow no-break space
        ("ru", "1\u00a0000", 1000),  # no-break space
        ("fr", "1 000", 1000),  # the pack allows a plain space
        ("de", "1'000", 1000),  # Swiss apostrophe
        ("hi", "1,00,000", 100000),  # Indian grouping
        ("hi", "1,000,000", 1000000),
        ("bn", "১৮", 18),  # lm-eval's [0-9] regex misses these
        ("th", "๑๒๕", 125),
        ("ar", "١٢٫٥", 12.5),
        ("ar", "١٬٠٠٠", 1000),
        ("ur", "۱۲۵", 125),
        ("te", "౧౮", 18),
        ("ja", "１８", 18),  # fullwidth
        ("en", "$18.00", 18),
        ("en", "-5", -5),
        ("en", "\u22125", -5),  # Unicode minus
    ],
)
def test_parse_number_follows_the_language(lang, written, value):
    assert parse_number(written, load_pack(lang).numbers) == value


@pytest.mark.parametrize("written", ["1,2,3", "12.34.5", "abc", "", "1.000,00,0"])
def test_malformed_numbers_raise(written):
    with pytest.raises(ValueError):
        parse_number(written, load_pack("en").numbers)
    assert parse_number(written, load_pack("en").numbers, strict=False) is None


def test_normalize_text_keeps_grouping_spaces_and_converts_digits():
    assert normalize_text("১৮ and ๑๒ and ٣") == "18 and 12 and 3"
    assert normalize_text("1\u202f000") == "1\u202f000"
    assert normalize_text("ｘ＝１８") == "x=18"


@pytest.mark.parametrize(
    ("lang", "value", "written"),
    [
        ("de", 1234567.5, "1.234.567,5"),
        ("en", 1234567, "1,234,567"),
        ("bn", 1234567, "১২,৩৪,৫৬৭"),
        ("ar", 12.5, "١٢٫٥"),
        ("th", 18, "๑๘"),
        ("fr", 1000, "1\u202f000"),
        ("en", -42, "-42"),
    ],
)
def test_format_number(lang, value, written):
    assert format_number(value, load_pack(lang)) == written


def test_numbers_equal_is_exact_for_integers_and_tolerant_for_decimals():
    assert numbers_equal(18.0, 18)
    assert not numbers_equal(18, 19)
    assert not numbers_equal(10**15, 10**15 + 1)
    assert numbers_equal(0.1 + 0.2, 0.3)
    assert not numbers_equal(0.3, 0.31)
    assert not numbers_equal(None, 1)
