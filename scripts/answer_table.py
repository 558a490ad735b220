"""docs/text.md's table of harder answers: polyglot against lm-eval's MGSM filters and math-verify.

    pip install -e '.[bench]' math-verify   # lm-eval and math-verify
    python scripts/answer_table.py

Every string is run through each tool as installed (nothing recalled):

- lm-eval: the ``strict-match`` and ``flexible-extract`` regex filters of its
  ``mgsm_native_cot_<lang>`` task (English's for a language MGSM lacks), read from the task
  YAML shipped in the installed package, then its ``exact_match`` metric (ignore case and
  punctuation) against the gold answer;
- math-verify: ``verify(parse(gold), parse(output))``;
- polyglot: ``score_outputs`` (thinking blocks read for the reasoning-model case), numeric.

Prints a Markdown table: each cell is what the tool extracted and whether it counts as right.
"""

from __future__ import annotations

from pathlib import Path

CASES = [
    # (output, language, gold, a reasoning model's output)
    ("<think>5 + 3 = 8. So the answer is 8. Wait, doubled: 16.</think>\n\n**16**", "en", 16, True),
    ("The answer is \\boxed{\\frac{3}{4}}", "en", 0.75, False),
    ("La respuesta es 3/4.", "es", 0.75, False),
    ("The answer is 1 1/2 cups.", "en", 1.5, False),
    ("答案是二十五。", "zh", 25, False),
    ("答えは三十五です。", "ja", 35, False),
    ("The answer is twenty-five.", "en", 25, False),
    ("Die Antwort lautet fünfundzwanzig.", "de", 25, False),
    ("She ate 3/4 of the cake, so 6 slices are left. The answer is 6.", "en", 6, False),
]


def _lm_eval(output: str, lang: str, gold: float) -> tuple[str, str]:
    import lm_eval
    import yaml
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter

    tasks = Path(lm_eval.__file__).parent / "tasks" / "mgsm" / "native_cot"
    spec = tasks / f"mgsm_native_cot_{lang}.yaml"
    if not spec.exists():
        spec = tasks / "mgsm_native_cot_en.yaml"
    filters = {f["name"]: f["filter"][0] for f in yaml.safe_load(spec.read_text())["filter_list"]}
    target = f"{gold:g}"
    cells = []
    for name in ("strict-match", "flexible-extract"):
        step = filters[name]
        regex = RegexFilter(
            regex_pattern=step["regex_pattern"], group_select=step.get("group_select", 0)
        )
        extracted = list(regex.apply([[output]], [{}]))[0][0]
        right = exact_match_hf_evaluate(
            predictions=[extracted], references=[target], ignore_case=True, ignore_punctuation=True
        )["exact_match"]
        cells.append(f"`{extracted}` {'✓' if right else '✗'}")
    return cells[0], cells[1]


def _math_verify(output: str, gold: float) -> str:
    from math_verify import parse, verify

    parsed = parse(output)
    right = verify(parse(f"{gold:g}"), parsed)
    shown = parsed[-1] if parsed else "nothing"
    return f"`{shown}` {'✓' if right else '✗'}"


def _polyglot(output: str, lang: str, gold: float, thinking: bool) -> str:
    from polyglot.evaluate.scoring import score_outputs
    from polyglot.text.thinking import DEFAULT_TAGS

    record = score_outputs([output], lang, gold, DEFAULT_TAGS if thinking else None)
    value = record["answer"]
    shown = "no answer" if value is None else f"{value:g}"
    return f"`{shown}` ({record['rule'] or record['reason']}) {'✓' if record['correct'] else '✗'}"


def main() -> None:
    print("| output | lang | gold | lm-eval strict | lm-eval flexible | math-verify | polyglot |")
    print("|---|---|---|---|---|---|---|")
    for output, lang, gold, thinking in CASES:
        strict, flexible = _lm_eval(output, lang, gold)
        shown = output.replace("\n", "\\n").replace("|", "\\|")
        print(
            f"| `{shown}` | {lang} | {gold:g} | {strict} | {flexible} | "
            f"{_math_verify(output, gold)} | {_polyglot(output, lang, gold, thinking)} |"
        )


if __name__ == "__main__":
    main()
