"""``polyglot merge``: analyse how fine-tuning changed each layer (layer swapping comes next)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from polyglot.cli.errors import friendly_errors

app = typer.Typer(
    help="Merging experts: the per-layer change analysis that picks the layers to swap.",
    no_args_is_help=True,
)
console = Console(highlight=False)


@app.command()
@friendly_errors
def analyze(
    base: Path = typer.Option(..., "--base", help="The model both experts were fine-tuned from."),
    expert: list[Path] = typer.Option(
        ...,
        "--expert",
        help="A fine-tuned full model; give it twice: the math expert first, the language "
        "expert second (then a swap is suggested).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for analysis.json and .html."),
) -> None:
    """Relative change ‖θ_ft − θ_base‖ / ‖θ_base‖ per layer and module of each expert, streamed
    tensor by tensor; heatmaps per expert and of their difference in OUT/analysis.html; with two
    experts, the (bottom, top) layers to swap and the rule behind them."""
    from polyglot.merge import analyze as run

    result = run(base, expert, out)
    table = Table(title="mean relative change per decoder layer")
    table.add_column("layer", justify="right")
    for profile in result["experts"]:
        table.add_column(Path(profile["expert"]).name, justify="right")
    for i in range(result["layers"]):
        table.add_row(str(i), *(f"{p['per_layer'][i]:.4f}" for p in result["experts"]))
    console.print(table)
    suggestion = result.get("suggestion")
    if suggestion:
        console.print(
            f"suggested swap: --bottom {suggestion['bottom']} --top {suggestion['top']} "
            f"(rule: {suggestion['rule']})",
            markup=False,
        )
    console.print(f"heatmaps: {out}/analysis.html", markup=False)


@app.command("layer-swap")
@friendly_errors
def layer_swap_command(
    math_expert: Path = typer.Option(..., "--math-expert", help="The math expert (full model)."),
    language_expert: Path = typer.Option(
        ..., "--language-expert", help="The language expert (full model, same base)."
    ),
    bottom: int = typer.Option(
        ..., "--bottom", min=0, help="Bottom layers from the language expert."
    ),
    top: int = typer.Option(..., "--top", min=0, help="Top layers from the language expert."),
    transition: int = typer.Option(
        0, "--transition", min=0, help="Blended layers at each boundary (linear ramp)."
    ),
    embeddings: str = typer.Option("language", "--embeddings", help="language or math."),
    lm_head: str = typer.Option(
        "language", "--lm-head", help="Final norm and output head: language or math."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the merged model."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
    emit_mergekit: bool = typer.Option(
        False, "--emit-mergekit", help="Also write OUT/mergekit.yaml: the same merge for mergekit."
    ),
    engine: str = typer.Option(
        "native", "--engine", help="native (streamed, polyglot's) or mergekit (its Python API)."
    ),
) -> None:
    """The math expert with its bottom and top layers from the language expert (Bandarkar et
    al., 2024), optionally with transition layers, streamed shard by shard into OUT (sharded
    safetensors, index, config, tokenizer, merge.json and README.md with the recipe)."""
    from polyglot.merge import layer_swap

    recipe = layer_swap(
        math_expert,
        language_expert,
        out,
        bottom=bottom,
        top=top,
        transition=transition,
        embeddings=embeddings,
        lm_head=lm_head,
        overwrite=overwrite,
        emit_mergekit=emit_mergekit,
        engine=engine,
    )
    weights = ", ".join(f"{w:g}" for w in recipe["language_weight_per_layer"])
    console.print(
        f"merged model: {out} (language expert's weight per layer: {weights})", markup=False
    )
