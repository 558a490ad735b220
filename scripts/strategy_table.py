"""docs/strategies.md's translate-all table: the testbed base natively and from English translations
of decreasing quality, per language, with the translations' chrF.

    python scripts/strategy_table.py [--model runs/testbed/base] [--out runs/strategies]
                                     [--noise 0.1 0.2 0.5]

Runs `polyglot eval` on the testbed (test split, all languages, greedy, 160 new tokens):
native, then `--strategy translate-all` with `--translator reference`, `noisy-reference:P`
for each P, `self` (the model translates its own input, 3-shot) and `clp` (its English
restatement); `--strategy clc` with every language's version voting, without English, and
with English and German pivots translated by `noisy-reference:0.1`; and `--strategy clsp`
(the model restates each item in English and German, then solves). Each run is reused when it
exists. Prints a Markdown table, the cost of each strategy (generations and tokens) and the gap
attribution (native vs reference).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/testbed/base")
    parser.add_argument("--out", type=Path, default=Path("runs/strategies"))
    parser.add_argument("--noise", type=float, nargs="*", default=[0.1, 0.2, 0.5])
    args = parser.parse_args()

    from polyglot.evaluate import EvalConfig, compare_runs, evaluate
    from polyglot.evaluate.cost import run_cost

    common = {"model": args.model, "benchmark": "testbed", "languages": "all",
              "max_new_tokens": 160, "progress": False}  # fmt: skip
    runs = {"native": evaluate(EvalConfig(**common, out=str(args.out / "native")))}
    translators = ["reference"] + [f"noisy-reference:{p:g}" for p in args.noise] + ["self", "clp"]
    for spec in translators:
        runs[spec] = evaluate(
            EvalConfig(**common, strategy="translate-all", translator=spec,
                       out=str(args.out / f"translate-all-{spec.replace(':', '-')}"))
        )  # fmt: skip
    foreign = ["de", "sw", "ko", "th", "bn"]
    runs["clc"] = evaluate(EvalConfig(**{**common, "languages": foreign}, strategy="clc",
                                      out=str(args.out / "clc-all")))  # fmt: skip
    runs["clc-no-en"] = evaluate(
        EvalConfig(**{**common, "languages": ["sw", "ko", "th", "bn"]}, strategy="clc",
                   pivots=["de", "ko", "sw"], out=str(args.out / "clc-no-en"))
    )  # fmt: skip
    runs["clc-noisy"] = evaluate(
        EvalConfig(**{**common, "languages": foreign}, strategy="clc", pivots=["en", "de"],
                   translator="noisy-reference:0.1", out=str(args.out / "clc-noisy-en-de"))
    )  # fmt: skip
    runs["clsp"] = evaluate(
        EvalConfig(**{**common, "languages": foreign}, strategy="clsp", pivots=["en", "de"],
                   out=str(args.out / "clsp-en-de"))
    )  # fmt: skip
    languages = [lang for lang in runs["native"].results["languages"] if lang != "en"]
    print("| run | chrF | " + " | ".join(languages) + " | en |")
    print("|---|---|" + "---|" * (len(languages) + 1))
    for name, run in runs.items():
        table = run.results["languages"]
        chrfs = {(table.get(lang, {}).get("translation") or {}).get("chrf") for lang in languages}
        chrf = "–" if chrfs == {None} else "/".join(f"{c:.0f}" for c in sorted(chrfs - {None}))
        cells = [
            f"{100 * table[lang]['accuracy']:.1f}% ({100 * table[lang]['ci95'][0]:.1f}–"
            f"{100 * table[lang]['ci95'][1]:.1f})"
            if lang in table
            else "–"
            for lang in [*languages, "en"]
        ]
        label = {
            "native": "native",
            "clc": "clc: the item's versions in all six languages vote",
            "clc-no-en": "clc: its own, de, ko and sw versions vote (no English)",
            "clc-noisy": "clc: its own, en and de translated by noisy-reference:0.1 vote",
            "clsp": "clsp: its own, and its restatements in en and de, vote",
        }.get(name, f"translate-all, {name}")
        print(f"| {label} | {chrf} | " + " | ".join(cells) + " |")
    print("\ncost (every generation, sub-runs and the model's own translations included):\n")
    print("| run | generations | tokens generated | translations by the model | their tokens |")
    print("|---|---|---|---|---|")
    for name, run in runs.items():
        c = run.results.get("cost") or run_cost(run.out)
        print(f"| {name} | {c['generations']} | {c['new_tokens']} | {c['translations']} | "
              f"{c['translation_tokens']} |")  # fmt: skip
    attribution = compare_runs([runs["native"].out, runs["reference"].out])["attribution"]
    print("\ngap attribution (native vs reference):")
    for lang, row in next(iter(attribution.values())).items():
        print(f"  {lang}: {row['gap']} gap items, {row['understanding']} understanding failures")


if __name__ == "__main__":
    main()
