"""Which CoT schema closes the gap: fine-tune the testbed base on each schema at several data
budgets, with the same steps, and evaluate every language.

    python scripts/schema_table.py [--testbed runs/testbed] [--languages sw,th,bn]
        [--budgets 100,400] [--schemas english-cot,native-cot,mixed,code-switch]
        [--steps 300] [--out runs/schemas]

One LoRA model per (schema, budget), trained on the gap languages together (budget examples per
language, from `polyglot data build` on the testbed's train split) plus `--replay` English
examples (the same in every cell), `--steps` steps of 8 (the same for every cell), evaluated with `polyglot eval` on the testbed's test split (200 items) in
English and the gap languages. Writes OUT/table.json and OUT/table.md (accuracy with Wilson
intervals, CoT fidelity, English after training), and reuses finished cells on a rerun.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def recipe_for(schema: str, budget: int, args) -> dict:
    languages = args.languages.split(",")
    band = [0.2, 0.8]  # the testbed's mixed traces: 25-80% target letters (docs/data.md)
    data = [
        {
            "build": {
                "source": "testbed",
                "languages": [lang],
                "schema": schema,
                "limit": budget * 3,  # decontamination drops up to half of the testbed's items
                "band": band,
            },
            "limit": budget,
        }
        for lang in languages
    ]
    if args.replay:
        # the same English examples in every cell, so forgetting does not decide the comparison
        data.append(
            {
                "path": f"{args.testbed}/world/train/en.jsonl",
                "response_field": "cot_en",
                "limit": args.replay,
            }
        )
    return {
        "base": f"{args.testbed}/base",
        "data": data,
        "method": "lora",
        "lora": {"rank": 16, "alpha": 32},
        "training": {
            "steps": args.steps,
            "batch_size": 8,
            "learning_rate": args.learning_rate,
            "seed": 0,
        },
        "eval": {
            "benchmarks": [{"name": "testbed", "languages": ["en", *languages]}],
            "max_new_tokens": 160,
        },
        "out": f"{args.out}/{schema}-{budget}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testbed", default="runs/testbed")
    parser.add_argument("--languages", default="sw,th,bn")
    parser.add_argument("--budgets", default="100,400")
    parser.add_argument("--schemas", default="english-cot,native-cot,mixed,code-switch")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument(
        "--replay", type=int, default=200, help="English examples in every cell (0: none)"
    )
    parser.add_argument("--out", default="runs/schemas")
    args = parser.parse_args()
    os.environ["POLYGLOT_TESTBED_DIR"] = args.testbed

    from polyglot.config import validate_model
    from polyglot.evaluate import evaluate
    from polyglot.evaluate.config import EvalConfig
    from polyglot.report.format import pct
    from polyglot.train.finetune import train
    from polyglot.train.recipe import TrainRecipe

    languages = ["en", *args.languages.split(",")]
    base_run = evaluate(
        EvalConfig(
            model=f"{args.testbed}/base",
            benchmark="testbed",
            languages=languages,
            max_new_tokens=160,
            out=f"{args.out}/base-eval",
            progress=False,
        )
    )
    rows = [
        {
            "schema": "base model (no fine-tuning)",
            "budget": 0,
            "languages": {
                lang: {
                    "accuracy": r["accuracy"],
                    "ci95": r["ci95"],
                    "fidelity": (r.get("fidelity") or {}).get("target"),
                }
                for lang, r in base_run.results["languages"].items()
            },
        }
    ]
    for budget in [int(b) for b in args.budgets.split(",")]:
        for schema in args.schemas.split(","):
            recipe = validate_model(recipe_for(schema, budget, args), TrainRecipe, "schema table")
            print(f"== {schema}, {budget} examples per language", flush=True)
            summary = train(recipe, progress=False, log=lambda m: print(m, flush=True))
            rows.append(
                {
                    "schema": schema,
                    "budget": budget,
                    "examples": summary["examples"],
                    "final_loss": summary["training"]["final_loss"],
                    "languages": summary["eval"]["testbed"],
                }
            )
    out = Path(args.out)
    (out / "table.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    header = "| schema | examples per language | " + " | ".join(languages) + " |"
    lines = [header, "|---" * (2 + len(languages)) + "|"]
    for row in rows:
        cells = []
        for lang in languages:
            r = row["languages"][lang]
            low, high = r["ci95"]
            fid = (
                f", CoT {pct(r['fidelity'])}% in {lang}"
                if lang != "en" and r.get("fidelity") is not None
                else ""
            )
            cells.append(f"{pct(r['accuracy'])}% ({pct(low)}–{pct(high)}{fid})")
        lines.append(f"| {row['schema']} | {row['budget'] or '–'} | " + " | ".join(cells) + " |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
