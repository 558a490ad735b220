"""The cross-lingual distillation table on the testbed (docs/distillation.md).

    python scripts/distill_table.py [--teacher runs/testbed/base] [--out runs/distill]
                                    [--steps 120] [--limit 200]

Teacher: the shipped graded base reading each item's English version (99% in English).
Students, trained on the same 400 train-split items per gap language (sw, ko, th, bn), the
same steps, batch and learning rate:

- ``self``: the graded base itself (cross-lingual self-distillation);
- ``small``: a 3-layer model sharing the tokenizer — the base's bottom three layers, its final
  norm and head (made here; it has never been trained as a 3-layer model).

Variants: SFT on the gold English CoT (``level: sequence``, ``cot_en``), sequence-level KD
(the teacher's own right answers), token-level KD on the gold CoT with forward KL (the teacher
on the fly, and as precomputed top-64) and with JSD (β = 0.5), and JSD with half the steps on
the student's own samples (on-policy, λ = 0.5).
Every student is evaluated on the test split (200 items per language, greedy, English too).
Each run is reused when it exists. Prints the Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LANGUAGES = ["sw", "ko", "th", "bn"]
VARIANTS = {
    "SFT, gold CoT": {"level": "sequence"},
    "sequence-level KD": {"level": "sequence", "data": {"response_field": None}},
    "token-level KD, forward KL": {"divergence": "forward-kl"},
    "token-level KD, forward KL, top-64 teacher": {
        "divergence": "forward-kl",
        "teacher_logits": "topk",
        "top_k": 64,
    },
    "token-level KD, JSD": {"divergence": "jsd", "beta": 0.5},
    "token-level KD, JSD, on-policy 0.5": {"divergence": "jsd", "beta": 0.5, "on_policy": 0.5},
}


def small_student(base: Path, out: Path, layers: int = 3) -> Path:
    """The base's bottom ``layers`` layers with its final norm and head."""
    if (out / "model.safetensors").is_file():
        return out
    from polyglot.models import load_model, load_tokenizer

    model = load_model(str(base), device="cpu", dtype="float32")
    model.model.layers = model.model.layers[:layers]
    model.config.num_hidden_layers = layers
    model.config.layer_types = None
    model.save_pretrained(out)
    load_tokenizer(str(base), padding_side=None).save_pretrained(out)
    return out


def merged(base: dict, change: dict) -> dict:
    result = dict(base)
    for key, value in change.items():
        result[key] = merged(base[key], value) if isinstance(value, dict) else value
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="runs/testbed/base")
    parser.add_argument("--out", type=Path, default=Path("runs/distill"))
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--limit", type=int, default=200)
    args = parser.parse_args()

    from polyglot.config import validate_model
    from polyglot.distill.recipe import DistillRecipe
    from polyglot.distill.run import distill
    from polyglot.evaluate import EvalConfig, evaluate

    students = {
        "self": args.teacher,
        "small": str(small_student(Path(args.teacher), args.out / "small-student")),
    }
    evaluation = {"benchmarks": [{"name": "testbed", "languages": ["en", *LANGUAGES],
                                  "limit": args.limit}], "max_new_tokens": 160}  # fmt: skip
    rows = {}
    for student_name, student in students.items():
        before = evaluate(EvalConfig(model=student, benchmark="testbed",
                                     languages=["en", *LANGUAGES], limit=args.limit,
                                     max_new_tokens=160, progress=False,
                                     out=str(args.out / f"{student_name}-before")))  # fmt: skip
        rows[(student_name, "before")] = (before.results["languages"], None)
        for name, change in VARIANTS.items():
            base = {
                "teacher": args.teacher, "student": student, "level": "token",
                "data": {"languages": LANGUAGES, "limit": 400, "response_field": "cot_en"},
                "training": {"steps": args.steps, "batch_size": 8, "learning_rate": 5e-4,
                             "max_length": 384},
                "eval": evaluation,
                "out": str(args.out / f"{student_name}-{name.replace(', ', '-').replace(' ', '-')}"),
            }  # fmt: skip
            recipe = validate_model(merged(base, change), DistillRecipe, "distill_table")
            summary = distill(recipe, progress=False, log=lambda m: None)
            figures = summary["eval"]["testbed"]
            rows[(student_name, name)] = (figures, summary)

    print("| student | variant | " + " | ".join(LANGUAGES) + " | en | divergence before → after "
          "| seconds |")  # fmt: skip
    print("|---|---|" + "---|" * (len(LANGUAGES) + 3))
    for (student_name, name), (figures, summary) in rows.items():
        cells = [
            f"{100 * figures[lang]['accuracy']:.1f}% ({100 * figures[lang]['ci95'][0]:.1f}–"
            f"{100 * figures[lang]['ci95'][1]:.1f})"
            for lang in [*LANGUAGES, "en"]
        ]
        training = (summary or {}).get("training", {})
        divergence = (
            f"{training['divergence_before']:.3f} → {training['divergence_after']:.3f}"
            if "divergence_before" in training else "–"
        )  # fmt: skip
        seconds = training.get("seconds", "–")
        label = "(before training)" if name == "before" else name
        print(f"| {student_name} | {label} | " + " | ".join(cells) + f" | {divergence} | "
              f"{seconds} |")  # fmt: skip
    print(json.dumps({f"{s}/{n}": (r[1] or {}).get("pairs") for (s, n), r in rows.items()}))


if __name__ == "__main__":
    main()
