"""``polyglot merge``: the per-layer change analysis, layer swapping, the standard merges it is
compared with (soup, TIES, task arithmetic through mergekit), and merge recipes."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from polyglot.cli.errors import friendly_errors
from polyglot.merge import analyze as run
from polyglot.merge import layer_swap, standard_merge
from polyglot.merge.recipe import load_merge_recipe
from polyglot.merge.run import run_merge_recipe
from polyglot.report.format import pct

app = typer.Typer(
    help="Merging experts: layer swapping (with the per-layer analysis that picks the layers), "
    "the standard merges it is compared with, and recipes that train, merge, evaluate and "
    "compare in one command.",
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
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace an analysis of other models in --out."
    ),
) -> None:
    """Relative change ‖θ_ft − θ_base‖ / ‖θ_base‖ per layer and module of each expert, streamed
    tensor by tensor; heatmaps per expert and of their difference in OUT/analysis.html; with two
    experts, the (bottom, top) layers to swap and the rule behind them."""

    result = run(base, expert, out, overwrite=overwrite)
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


def _floats(flag: str, text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(
            f"{flag} {text}: comma-separated numbers, e.g. 0.75,0.25"
        ) from None


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
    ramp: str = typer.Option(
        None,
        "--ramp",
        help="The language expert's weight in each transition layer, from the swapped block "
        "inwards, e.g. 0.75,0.25 for --transition 2 (default: a linear ramp).",
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

    recipe = layer_swap(
        math_expert,
        language_expert,
        out,
        bottom=bottom,
        top=top,
        transition=transition,
        ramp=_floats("--ramp", ramp),
        embeddings=embeddings,
        lm_head=lm_head,
        overwrite=overwrite,
        emit_mergekit=emit_mergekit,
        engine=engine,
    )
    if recipe.get("reused"):
        console.print(
            f"{out}: already holds this merge; reused (--overwrite to redo)", markup=False
        )
        return
    weights = ", ".join(f"{w:g}" for w in recipe["language_weight_per_layer"])
    console.print(
        f"merged model: {out} (language expert's weight per layer: {weights})", markup=False
    )


def _standard(method: str, experts, base, weights, density, out, overwrite) -> None:

    recipe = standard_merge(
        method,
        experts,
        out,
        base=base,
        weights=weights or None,
        density=density,
        overwrite=overwrite,
    )
    if recipe.get("reused"):
        console.print(
            f"{out}: already holds this merge; reused (--overwrite to redo)", markup=False
        )
    else:
        console.print(f"merged model: {out} ({method}, weights {recipe['weights']})", markup=False)


_EXPERTS = typer.Option(..., "--expert", help="A fine-tuned full model (give two or more).")
_WEIGHTS = typer.Option(None, "--weight", help="One per expert, in order (default: see above).")
_OUT = typer.Option(..., "--out", "-o", help="Folder for the merged model.")
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace a merge made differently in --out.")
_BASE = typer.Option(..., "--base", help="The model the experts were fine-tuned from.")


@app.command()
@friendly_errors
def soup(
    expert: list[Path] = _EXPERTS,
    weight: list[float] = _WEIGHTS,
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
) -> None:
    """A model soup: the weighted average of the experts (default: equal weights; --weight values
    are relative, normalised to sum to 1), through mergekit's linear merge."""
    _standard("soup", expert, None, weight, 0.5, out, overwrite)


@app.command()
@friendly_errors
def ties(
    base: Path = _BASE,
    expert: list[Path] = _EXPERTS,
    weight: list[float] = _WEIGHTS,
    density: float = typer.Option(
        0.5, "--density", help="Share of each expert's change kept (its largest magnitudes)."
    ),
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
) -> None:
    """TIES (Yadav et al., 2023) through mergekit: each expert's change from the base trimmed to
    its largest --density share, one sign elected per parameter, the agreeing changes averaged
    (weights 1 each by default, normalised) and added to the base."""
    _standard("ties", expert, base, weight, density, out, overwrite)


@app.command("task-arithmetic")
@friendly_errors
def task_arithmetic(
    base: Path = _BASE,
    expert: list[Path] = _EXPERTS,
    weight: list[float] = _WEIGHTS,
    out: Path = _OUT,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Task arithmetic (Ilharco et al., 2023) through mergekit: the base plus the weighted sum of
    each expert's change (weights 1 each by default)."""
    _standard("task-arithmetic", expert, base, weight, 0.5, out, overwrite)


@app.command("run")
@friendly_errors
def run_command(
    recipe: Path = typer.Argument(..., help="A merge recipe (configs/merge/*.yaml)."),
    overrides: list[str] = typer.Argument(
        None, help="key=value changes to the recipe, e.g. out=runs/merge/sw eval.limit=50."
    ),
    grid: list[str] = typer.Option(
        None,
        "--grid",
        help="Sweep layer swaps: --grid 'bottom=0..2 top=0..2' (or a,b,c lists; transition=N).",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo stages whose folders were made differently."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Train the experts a recipe names (or take existing ones), analyse them, make its merges
    (layer swap, soup, TIES, task arithmetic) and the --grid of swaps, evaluate every model, and
    write one comparison report (OUT/report/comparison.html).

    A recipe's keys: base (the experts' base), experts.math / experts.language (a checkpoint
    folder, or {train: RECIPE, overrides: [key=value]}), merges (a list of {method: layer-swap,
    bottom, top, transition, ramp, embeddings, lm_head} or {method: soup|ties|task-arithmetic,
    weights, density}; bottom/top may be 'suggested'), grid ({bottom: [..], top: [..]}), eval
    (polyglot eval settings: benchmark, languages, limit, ...), out. Examples in configs/merge/;
    docs/merging.md explains each. Only missing stages run; a stage made
    differently is refused unless --overwrite (which replaces only such stages)."""

    extra = [o for o in overrides or [] if o.split("=")[0] in ("bottom", "top", "transition")]
    if extra and not grid:
        raise typer.BadParameter(f"'{extra[0]}' belongs to --grid: --grid '{' '.join(extra)}'")
    loaded = load_merge_recipe(
        recipe, [o for o in overrides or [] if o not in extra], [*(grid or []), *extra]
    )
    summary = run_merge_recipe(
        loaded,
        progress=not quiet,
        overwrite=overwrite,
        log=lambda m: console.print(m, markup=False),
    )
    if not summary["accuracy"]:
        console.print(f"merged models in {loaded.out}/models (the recipe asks for no eval)")
        return
    table = Table(title="accuracy % per language (95% CI)")
    table.add_column("model")
    for lang in summary["languages"]:
        table.add_column(lang, justify="right")
    for name, row in summary["accuracy"].items():
        mark = " (best swap)" if name == summary["best_swap"] else ""
        cells = []
        for lang in summary["languages"]:
            r = row.get(lang)
            cells.append(
                "–"
                if r is None
                else f"{pct(r['accuracy'])} [{pct(r['ci95'][0])}–{pct(r['ci95'][1])}]"
            )
        table.add_row(name + mark, *cells)
    console.print(table)
    console.print(f"report: {loaded.out}/report/comparison.html", markup=False)
