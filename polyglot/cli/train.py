"""``polyglot train``: fine-tune a model from a recipe; ``polyglot train merge-adapter``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from typer.core import TyperGroup

from polyglot.cli.errors import fail, friendly_errors
from polyglot.cli.output import QUIET, eval_tables, stage_messages
from polyglot.train.finetune import merge_adapter, train
from polyglot.train.recipe import load_recipe


class _RunByDefault(TyperGroup):
    """``polyglot train --config X k=v`` runs the recipe; ``polyglot train merge-adapter ...``
    the subcommand (anything that is not a subcommand's name goes to ``run``)."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Fine-tune a model on a recipe (configs/train/*.yaml): LoRA or full, loss on the "
    "response only, evaluated at the end. `polyglot train --config RECIPE key=value ...`.",
    no_args_is_help=True,
)
console = Console(highlight=False)


@app.command("run")
@friendly_errors
def run(
    overrides: list[str] = typer.Argument(
        None,
        help="Recipe overrides as dotted key=value, e.g. training.steps=200 lora.rank=8 "
        "data.0.path=runs/data/sw (values are read as YAML).",
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Recipe YAML (configs/train/*.yaml)."
    ),
    out: str | None = typer.Option(None, "--out", "-o", help="Output folder (the recipe's out)."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a model trained with another recipe in the out folder."
    ),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip (and count) malformed JSONL lines instead of stopping."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    quiet: bool = QUIET,
) -> None:
    """Train the recipe into its out folder: adapter or full model, recipe.yaml, curve.jsonl and
    curve.html, eval/<benchmark>/ and summary.json. A rerun reuses a finished model and resumes a
    killed training from its last checkpoint. Multi-GPU: `accelerate launch -m polyglot train
    --config RECIPE` (the same recipe)."""

    if config is None and not overrides:
        fail("give a recipe: --config configs/train/<recipe>.yaml (and key=value overrides)")
    recipe = load_recipe(config, [*(overrides or []), *([f"out={out}"] if out else [])])
    summary = train(
        recipe,
        overwrite=overwrite,
        skip_bad=skip_bad,
        progress=progress and not quiet,
        log=stage_messages(quiet),
    )
    if summary.get("rank"):  # another process of a multi-process run: the main one reports
        return
    info = summary["training"]
    console.print(
        f"trained {recipe.method}: {info['steps']} steps, loss {info['first_loss']} -> "
        f"{info['final_loss']}, {summary['examples']} examples → {recipe.out}",
        markup=False,
    )
    for source in summary["sources"]:
        if source.get("bad_lines"):
            console.print(f"skipped {source['bad_lines']} bad line(s) in {source['label']}")
    eval_tables(console, summary.get("eval"), "the trained model", fidelity=True)
    console.print(f"curve: {recipe.out}/curve.html", markup=False)


@app.command("merge-adapter")
@friendly_errors
def merge_adapter_command(
    adapter: Path = typer.Argument(..., help="A LoRA adapter folder (a `polyglot train` output)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the merged full model."),
    base: str | None = typer.Option(
        None, "--base", help="The base model (default: the one the adapter names)."
    ),
) -> None:
    """Fold a LoRA adapter into its base model: a full model loadable without peft."""

    merged = merge_adapter(adapter, out, base=base)
    console.print(f"merged model: {merged}", markup=False)
