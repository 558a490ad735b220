"""``polyglot distill``: cross-lingual distillation from a recipe or flags."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from polyglot.cli.config import with_default
from polyglot.cli.errors import fail, friendly_errors
from polyglot.cli.output import QUIET, eval_tables, stage_messages
from polyglot.distill.recipe import DistillRecipe, load_distill_recipe
from polyglot.distill.run import distill

console = Console(highlight=False)

FLAGS = {  # flag -> recipe key
    "teacher": "teacher",
    "student": "student",
    "level": "level",
    "divergence": "divergence",
    "beta": "beta",
    "temperature": "temperature",
    "ce_weight": "ce_weight",
    "on_policy": "on_policy",
    "teacher_logits": "teacher_logits",
    "top_k": "top_k",
    "method": "method",
    "steps": "training.steps",
    "data": "data.path",
    "response_field": "data.response_field",
    "limit": "data.limit",
    "out": "out",
}


@friendly_errors
def distill_command(
    overrides: list[str] = typer.Argument(
        None, help="Recipe overrides as dotted key=value, e.g. training.steps=200 beta=0.3."
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Recipe YAML (configs/distill/*.yaml)."
    ),
    teacher: str | None = typer.Option(None, "--teacher", help="Teacher model (reads English)."),
    student: str | None = typer.Option(
        None, "--student", help="Student model (reads --languages)."
    ),
    benchmark: str | None = typer.Option(
        None,
        "--benchmark",
        help="'testbed' (its train split; the default), a benchmark in eval/ (mgsm, "
        "polymath-low, ...: the teacher's answers are the responses), or give --data.",
    ),
    data: str | None = typer.Option(
        None, "--data", help="Parallel JSONL files, {lang} in the path (id, question, answer)."
    ),
    languages: str | None = typer.Option(
        None, "--languages", "-l", help="The student's languages, comma-separated."
    ),
    level: str | None = typer.Option(
        None, "--level", help=with_default("token or sequence.", DistillRecipe, "level")
    ),
    divergence: str | None = typer.Option(
        None,
        "--divergence",
        help=with_default("forward-kl, reverse-kl or jsd.", DistillRecipe, "divergence"),
    ),
    beta: float | None = typer.Option(
        None,
        "--beta",
        help=with_default("jsd: 0 = forward KL, 1 = reverse.", DistillRecipe, "beta"),
    ),
    temperature: float | None = typer.Option(
        None,
        "--temperature",
        help=with_default("Softens both; loss x T².", DistillRecipe, "temperature"),
    ),
    ce_weight: float | None = typer.Option(
        None,
        "--ce-weight",
        help=with_default(
            "Share of cross-entropy on the response in the loss (0-1).", DistillRecipe, "ce_weight"
        ),
    ),
    on_policy: float | None = typer.Option(
        None,
        "--on-policy",
        help=with_default(
            "Share of steps on the student's own samples (0-1).", DistillRecipe, "on_policy"
        ),
    ),
    teacher_logits: str | None = typer.Option(
        None,
        "--teacher-logits",
        help=with_default(
            "online or topk (precomputed, --top-k).", DistillRecipe, "teacher_logits"
        ),
    ),
    top_k: int | None = typer.Option(
        None, "--top-k", help=with_default("", DistillRecipe, "top_k")
    ),
    response_field: str | None = typer.Option(
        None, "--response-field", help="The items' gold response field (testbed: cot_en)."
    ),
    method: str | None = typer.Option(
        None, "--method", help=with_default("full or lora.", DistillRecipe, "method")
    ),
    steps: int | None = typer.Option(None, "--steps"),
    limit: int | None = typer.Option(None, "--limit", help="The first N parallel items."),
    out: str | None = typer.Option(None, "--out", "-o", help="Output folder (the recipe's out)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a model distilled with another recipe in --out."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    quiet: bool = QUIET,
) -> None:
    """Distill a teacher into a student across languages: the teacher reads each parallel item
    in English, the student the same item in its language, and the student learns the teacher's
    next-token distributions on the shared response (level token: forward/reverse KL or JSD,
    optional cross-entropy and on-policy share, teacher logits online or precomputed top-k) or
    its text (level sequence). The output folder is a model `polyglot eval` loads, with
    curve.html (loss, divergence and cross-entropy per step), summary.json, the card and
    eval/<benchmark>/. A rerun reuses it; a killed run resumes from its last checkpoint."""

    given = {k: v for k, v in locals().items() if k in FLAGS and v is not None}
    for key in ("divergence", "level", "teacher_logits", "method"):  # JSD, Token, ...
        if isinstance(given.get(key), str):
            given[key] = given[key].lower()
    if config is None and not overrides and not given:
        fail("give a recipe (--config configs/distill/<recipe>.yaml) or --teacher, --student, "
             "--languages and --out")  # fmt: skip
    if benchmark and data:
        fail(f"give --benchmark {benchmark} or --data, not both")
    flags = [f"{FLAGS[k]}={v}" for k, v in given.items()]
    if benchmark not in (None, "testbed"):  # read as it is, like data.benchmark in a recipe
        flags.append(f"data.benchmark={benchmark}")
        if response_field is None:  # a benchmark carries no reasoning: the teacher's answers
            flags.append("data.response_field=null")
    if languages:
        flags.append(f"data.languages=[{languages}]")
    recipe = load_distill_recipe(config, [*(overrides or []), *flags])
    summary = distill(recipe, overwrite=overwrite, progress=progress and not quiet,
                      log=stage_messages(quiet))  # fmt: skip
    if summary.get("rank"):  # another process of a multi-process run: the main one reports
        return
    info = summary["training"]
    console.print(
        f"distilled ({recipe.level} level): {info['steps']} steps, loss {info['first_loss']} -> "
        f"{info['final_loss']}, {summary['pairs']} pairs → {recipe.out}",
        markup=False,
    )
    eval_tables(console, summary.get("eval"), "the student", fidelity=True)
    console.print(f"curve: {recipe.out}/curve.html", markup=False)
