"""Language packs: one declarative YAML per language under ``languages/``.

A pack says everything polyglot needs to know about a language: its script(s), digits and
number format, the localized prompt strings and final-answer cues, its fastText label, and a
small bilingual lexicon. Adding a language means adding a file; code never branches on a
language code.
"""

from __future__ import annotations

import os
import unicodedata
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from polyglot.config import ConfigError, StrictModel, load_yaml_model
from polyglot.resources import shipped_dir
from polyglot.text.numbers import format_number

ANSWER_SLOT = "{n}"
MIN_LEXICON_ENTRIES = 50


class NumberFormat(StrictModel):
    digits: str = Field(description="The ten decimal digits 0-9 as written natively.")
    decimal_separator: str = "."
    thousands_separators: list[str] = [","]
    # Group sizes from the right, as in CLDR: [3] is 1,000,000; [3, 2] is Indian 10,00,000.
    grouping: list[int] = [3]

    @field_validator("digits")
    @classmethod
    def _ten_decimal_digits(cls, digits: str) -> str:
        if len(digits) != 10:
            raise ValueError(f"needs exactly 10 digits, got {len(digits)}: {digits!r}")
        for value, char in enumerate(digits):
            if unicodedata.category(char) != "Nd" or unicodedata.decimal(char) != value:
                raise ValueError(f"{char!r} at position {value} is not the decimal digit {value}")
        return digits

    @field_validator("decimal_separator")
    @classmethod
    def _one_char(cls, sep: str) -> str:
        if len(sep) != 1:
            raise ValueError(f"must be a single character, got {sep!r}")
        return sep

    @model_validator(mode="after")
    def _separators_differ(self) -> NumberFormat:
        if self.decimal_separator in self.thousands_separators:
            raise ValueError(
                f"decimal separator {self.decimal_separator!r} is also a thousands separator"
            )
        return self


class Prompts(StrictModel):
    question: str = Field(description="Label before a question, e.g. 'Question:'.")
    step_by_step_answer: str = Field(description="Label before a CoT answer.")
    answer: str = Field(description="Label before a direct answer, e.g. 'Answer:'.")
    think_step_by_step: str = Field(description='"Let\'s think step by step."')


class Detection(StrictModel):
    """How to tell this language from close relatives that fastText confuses it with."""

    confusable_with: list[str] = []
    markers: list[str] = Field(default=[], description="Words typical of this language only.")


class Reflection(StrictModel):
    """The self-reflection detector's question, asked after the model's attempt, and the two
    answers whose likelihoods it compares."""

    question: str = Field(description='"Did you understand the question correctly? Yes or No."')
    yes: str
    no: str


# Machine-translation checkpoint families whose language codes a pack can give
MT_FAMILIES = ("nllb", "m2m100", "marian")


class LanguagePack(StrictModel):
    code: str = Field(pattern=r"^[a-z]{2,3}$", description="ISO 639-1 code (639-3 if none).")
    name: str
    native_name: str
    scripts: list[str] = Field(min_length=1, description="Unicode script names, e.g. Bengali.")
    space_delimited: bool = True
    # how the script runs: reports show right-to-left text (Arabic, Urdu) right to left
    direction: Literal["ltr", "rtl"] = "ltr"
    sentence_terminators: list[str] = Field(min_length=1)
    numbers: NumberFormat
    prompts: Prompts
    answer_cues: list[str] = Field(
        min_length=1, description="Final-answer sentences with {n}; the first is canonical."
    )
    fasttext_label: str
    fasttext_aliases: list[str] = []
    detection: Detection = Detection()
    # how numerals written as words are read after an answer cue (polyglot/text/number_words.py):
    # "num2words" (the inverse of the num2words library) or "cjk" (cn2an); none: digits only
    number_words: Literal["num2words", "cjk"] | None = None
    # what may follow a numeral written as words without a space (ko 입니다, ja です, zh 个)
    number_word_suffixes: list[str] = []
    # words that make a numeral before them part of something else ("two thirds", "one more")
    number_word_blockers: list[str] = []
    lexicon: dict[str, str]
    reflection: Reflection | None = None
    # the language's code in machine-translation checkpoints: nllb (FLORES-200, swh_Latn),
    # m2m100 (ISO 639-1, sw), marian (the >>xxx<< target token of multilingual OPUS-MT models)
    mt_codes: dict[str, str] = {}

    @field_validator("mt_codes")
    @classmethod
    def _known_families(cls, codes: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(codes) - set(MT_FAMILIES))
        if unknown:
            raise ValueError(f"unknown family {unknown[0]!r}; one of {', '.join(MT_FAMILIES)}")
        return codes

    @field_validator("answer_cues")
    @classmethod
    def _cues_have_one_slot(cls, cues: list[str]) -> list[str]:
        for cue in cues:
            if cue.count(ANSWER_SLOT) != 1:
                raise ValueError(f"cue {cue!r} must contain {ANSWER_SLOT} exactly once")
        return cues

    @field_validator("lexicon")
    @classmethod
    def _lexicon_size(cls, lexicon: dict[str, str]) -> dict[str, str]:
        if len(lexicon) < MIN_LEXICON_ENTRIES:
            raise ValueError(f"needs at least {MIN_LEXICON_ENTRIES} entries, got {len(lexicon)}")
        empty = [word for word, translation in lexicon.items() if not str(translation).strip()]
        if empty:
            raise ValueError(f"empty translation for {', '.join(empty[:5])}")
        return lexicon

    @property
    def answer_cue(self) -> str:
        return self.answer_cues[0]

    def render_number(self, value: int | float) -> str:
        """Write ``value`` in this language's digits, grouping and decimal separator."""

        return format_number(value, self)

    def render_answer(self, value: int | float) -> str:
        return self.answer_cue.replace(ANSWER_SLOT, self.render_number(value))


def pack_dirs() -> list[Path]:
    """Folders searched for packs: $POLYGLOT_LANGUAGES_DIR (os.pathsep-separated) first."""
    return list(_pack_dirs(os.environ.get("POLYGLOT_LANGUAGES_DIR", "")))


@cache
def _pack_dirs(extra: str) -> tuple[Path, ...]:
    # cached per value of the variable: load_pack is called per item in hot loops
    return (*(Path(p) for p in extra.split(os.pathsep) if p), shipped_dir("languages"))


def load_pack_file(path: Path) -> LanguagePack:
    pack = load_yaml_model(path, LanguagePack)
    if pack.code != path.stem:
        raise ConfigError(f"{path}: field 'code': '{pack.code}' does not match the file name")
    return pack


@cache
def _all_packs(dirs: tuple[Path, ...]) -> dict[str, LanguagePack]:
    packs: dict[str, LanguagePack] = {}
    for folder in reversed(dirs):  # earlier folders override later ones
        for path in sorted(folder.glob("*.yaml")):
            packs[path.stem] = load_pack_file(path)
    return dict(sorted(packs.items()))


def all_packs() -> dict[str, LanguagePack]:
    """Every available pack by code, validated."""
    return _all_packs(tuple(pack_dirs()))


def load_pack(code: str) -> LanguagePack:
    packs = all_packs()
    if code not in packs:
        raise ConfigError(
            f"unknown language '{code}'; packs exist for: {', '.join(packs)} "
            f"(add languages/{code}.yaml to support it)"
        )
    return packs[code]


def parse_languages(spec: str | list[str], available: list[str] | None = None) -> list[str]:
    """'en,sw,th' or 'all' into a list of pack codes, each checked to exist."""
    packs = all_packs()
    known = available if available is not None else list(packs)
    codes = spec if isinstance(spec, list) else [c.strip() for c in spec.split(",") if c.strip()]
    if codes == ["all"]:
        return list(known)
    if not codes:
        raise ConfigError("no language given")
    unknown = [c for c in codes if c not in packs]
    if unknown:
        raise ConfigError(
            f"unknown language(s) {', '.join(unknown)}; available: {', '.join(known)}"
        )
    return codes
