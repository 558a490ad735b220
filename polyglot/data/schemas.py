"""The four CoT schemas ``polyglot data build`` writes, made from an item's traces.

- ``english-cot``: the question in the target language, the reasoning in English;
- ``native-cot``: the reasoning in the question's language;
- ``mixed`` (Language-Mixed CoT, KO-REAson / Yi-Sang 2025): the reasoning anchored in English,
  with the question's entities and key terms in the target language and the final answer
  sentence in the target language;
- ``code-switch`` (EntityCS 2022, xCoT 2024): the English reasoning with a share (``ratio``) of
  its entities and lexicon words switched into the target language.

``switch_terms`` does the term switching for ``mixed`` (every known term) and ``code-switch``
(a random share); the terms come from the language pack's lexicon plus, for the testbed, the
parallel names and objects of its templates.
"""

from __future__ import annotations

import random
import re
from functools import cache

from polyglot.packs import load_pack
from polyglot.testbed.world import load_templates

SCHEMAS = ("english-cot", "native-cot", "mixed", "code-switch")


@cache
def term_map(lang: str, testbed: bool = False, entities_only: bool = False) -> dict[str, str]:
    """English term -> target-language term: the pack's lexicon (and plural forms) unless
    ``entities_only``, plus the testbed templates' parallel names and objects when
    ``testbed`` (with neither, the lexicon is used)."""
    pack = load_pack(lang)
    terms: dict[str, str] = {}
    if not (entities_only and testbed):
        for english, native in pack.lexicon.items():
            terms[english] = native
            terms.setdefault(english + "s", native)
    if testbed:
        en, target = load_templates("en"), load_templates(lang)
        for a, b in zip(en.names, target.names, strict=False):
            terms[a] = b
        for a, b in zip(en.objects, target.objects, strict=False):
            terms[a.word] = b.word
    return terms


@cache
def _term_pattern(lang: str, testbed: bool, entities_only: bool) -> re.Pattern[str]:
    terms = sorted(term_map(lang, testbed, entities_only), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\b")


def switch_terms(
    text: str,
    lang: str,
    *,
    ratio: float = 1.0,
    rng: random.Random | None = None,
    testbed: bool = False,
    entities_only: bool = False,
) -> tuple[str, int]:
    """``text`` with its known English terms in ``lang`` (each with probability ``ratio``);
    returns the text and how many terms were switched."""
    terms = term_map(lang, testbed, entities_only)
    switched = 0

    def replace(match: re.Match) -> str:
        nonlocal switched
        if ratio < 1 and (rng or random).random() >= ratio:
            return match.group(0)
        switched += 1
        return terms[match.group(0)]

    return _term_pattern(lang, testbed, entities_only).sub(replace, text), switched


def split_answer_sentence(cot: str) -> tuple[str, str]:
    """An English trace as (reasoning, closing answer sentence "The answer is N."); the
    sentence is empty when the trace has no English answer cue."""
    cues = [cue.split("{n}")[0].strip() for cue in load_pack("en").answer_cues]
    at = max(cot.rfind(cue) for cue in cues if cue)
    if at < 0:
        return cot, ""
    return cot[:at].rstrip(), cot[at:].strip()


def render_schema(
    schema: str,
    lang: str,
    traces: dict[str, str],
    answer: float,
    *,
    ratio: float = 0.5,
    rng: random.Random | None = None,
    testbed: bool = False,
) -> str | None:
    """The response of ``schema`` for an item in ``lang``; ``traces``: "en" (an English CoT)
    and/or "native" (one in ``lang``). None when the item has no trace the schema needs."""
    if schema == "native-cot":
        return traces.get("native")
    english = traces.get("en")
    if english is None:
        return None
    if schema == "english-cot":
        return english
    body, closing = split_answer_sentence(english)
    if schema == "mixed":
        body, _ = switch_terms(body, lang, testbed=testbed, entities_only=True)
        return f"{body} {load_pack(lang).render_answer(answer)}".strip()
    if schema == "code-switch":
        body, _ = switch_terms(body, lang, ratio=ratio, rng=rng, testbed=testbed)
        return f"{body} {closing}".strip()
    raise ValueError(f"unknown schema '{schema}'; choose one of {', '.join(SCHEMAS)}")
