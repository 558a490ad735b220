"""``polyglot merge run``: a merge recipe from experts to comparison report, one stage at a time.

Stages, each in its own folder under ``OUT`` with its card, so that a rerun does only what is
missing and refuses (unless ``overwrite``) what was made differently:

1. ``experts/<role>``: each expert given as a ``polyglot train`` recipe is trained (a LoRA
   adapter is folded into a full model in ``experts/<role>-full``);
2. ``analysis``: the per-layer change of both experts, and the suggested (bottom, top);
3. ``models/<name>``: each merge, and each point of the (bottom, top) grid;
4. ``eval/<name>``: ``polyglot eval`` of the base, both experts and every merge;
5. ``report``: the comparison (per language, every model against the base, with 95% intervals
   and paired tests) with the grid's heatmaps, and ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from polyglot.config import ConfigError, merge_overrides, parse_overrides, validate_model
from polyglot.evaluate import EvalConfig, compare_runs, evaluate, write_comparison
from polyglot.files import check_output_dir, read_json, write_atomic, write_json
from polyglot.merge import analyze
from polyglot.merge.analyze import Checkpoint
from polyglot.merge.layer_swap import swap_plan
from polyglot.merge.methods import MERGE_METHODS
from polyglot.merge.recipe import MergeRecipe, MergeSpec, merge_name, swap_name
from polyglot.outputs import OutputRefused, hold
from polyglot.provenance import fingerprint, read_card
from polyglot.report.charts import heatmap
from polyglot.resources import recipe_path
from polyglot.train.finetune import merge_adapter, train
from polyglot.train.recipe import TrainRecipe, load_recipe

SUMMARY_SCHEMA = "polyglot.merge.run/1"
RESERVED = ("base", "math-expert", "language-expert")


def _redo_if_different(step: Callable, overwrite: bool):
    """``step(overwrite=False)``: reuses a stage made the same way; only when it refuses one made
    differently, and ``overwrite`` is given, ``step(overwrite=True)`` replaces it."""
    try:
        return step(overwrite=False)
    except ConfigError as err:
        if overwrite and isinstance(err, OutputRefused) and err.overwrite_helps:
            return step(overwrite=True)
        raise


def _expert(recipe: MergeRecipe, role: str, out: Path, overwrite: bool, progress: bool, log):
    """The expert's full checkpoint folder (trained first when it is given as a recipe)."""
    source = recipe.experts[role]
    if source.path is not None:
        if (Path(source.path) / "adapter_config.json").is_file():
            raise ConfigError(
                f"experts.{role}: {source.path} is a LoRA adapter; fold it into its base first "
                f"(polyglot train merge-adapter {source.path} --out DIR) and name DIR"
            )
        try:  # a clear error now rather than after training the other expert
            Checkpoint.open(source.path)
        except ConfigError as err:
            raise ConfigError(f"experts.{role}: {err}") from None
        return Path(source.path)

    folder = out / "experts" / role
    overrides = [*source.overrides, f"out={folder}"]
    if isinstance(source.train, dict):  # the recipe inline
        data = merge_overrides({**source.train, "out": str(folder)}, parse_overrides(overrides))
        train_recipe = validate_model(data, TrainRecipe, source=f"experts.{role}.train")
        label = "(inline recipe)"
    else:
        train_recipe = load_recipe(recipe_path(source.train), overrides)
        label = source.train
    if recipe.base is not None and Path(train_recipe.base).resolve() != Path(recipe.base).resolve():
        raise ConfigError(
            f"experts.{role}: {label} trains from {train_recipe.base}, but the recipe's "
            f"base is {recipe.base}; experts must be fine-tunes of that base"
        )
    train_recipe = train_recipe.model_copy(update={"eval": None})  # evaluated below, like all
    log(f"expert '{role}': polyglot train {label} -> {folder}")
    _redo_if_different(
        lambda overwrite: train(train_recipe, overwrite=overwrite, progress=progress, log=log),
        overwrite,
    )
    if train_recipe.method == "full":
        return folder
    full = out / "experts" / f"{role}-full"

    card = read_card(full) if full.is_dir() else None
    if card and card.get("inputs", {}).get("adapter") == fingerprint(folder):
        return full
    if full.exists():
        import shutil

        shutil.rmtree(full)
    log(f"expert '{role}': folding the LoRA adapter into {full}")
    return merge_adapter(folder, full)


def _analysis(base: str, math: Path, language: Path, out: Path, log, overwrite: bool) -> dict:

    folder = out / "analysis"
    card = read_card(folder) if folder.is_dir() else None
    wanted = {"base": fingerprint(base), "experts": [fingerprint(math), fingerprint(language)]}
    if card and card.get("inputs") == wanted and (folder / "analysis.json").is_file():
        return read_json(folder / "analysis.json", "analysis")
    log(f"analysis: relative change per layer -> {folder}")
    return analyze(base, [math, language], folder, overwrite=overwrite)


def _plan(recipe: MergeRecipe, suggestion: dict | None) -> tuple[list[dict], list[str]]:
    """Every merge to make (name, method, settings), the recipe's merges first, then the grid's
    swaps not already among them; and the names of the grid's points."""
    plan: list[dict] = []
    seen: dict[tuple, str] = {}

    def add(name: str, spec: dict) -> str:
        key = tuple(sorted((k, str(v)) for k, v in spec.items()))
        if key in seen:
            return seen[key]
        if any(p["name"] == name for p in plan):
            raise ConfigError(
                f"two different merges would be named '{name}' (a merge's name and a grid "
                "point): rename the merge"
            )
        seen[key] = name
        plan.append({"name": name, **spec})
        return name

    for merge in recipe.merges:
        spec = _settings(merge, suggestion)
        name = merge_name(merge)
        if name == "swap-suggested":
            name = f"swap-suggested-b{spec['bottom']}-u{spec['top']}"
        add(name, spec)
    grid_names = []
    if recipe.grid:
        for bottom in recipe.grid.bottom:
            for top in recipe.grid.top:
                spec = {"method": "layer-swap", "bottom": bottom, "top": top,
                        "transition": recipe.grid.transition, "ramp": None,
                        "embeddings": "language", "lm_head": "language"}  # fmt: skip
                grid_names.append(add(swap_name(bottom, top, recipe.grid.transition), spec))
    return plan, grid_names


def _settings(merge: MergeSpec, suggestion: dict | None) -> dict:
    if merge.method != "layer-swap":
        spec = {"method": merge.method, "weights": merge.weights}
        if merge.method == "ties":
            spec["density"] = merge.density
        return spec
    bottom, top = merge.bottom, merge.top
    if "suggested" in (bottom, top):
        if suggestion is None:
            raise ConfigError("a 'suggested' swap needs the analysis: give the recipe a 'base'")
        bottom = suggestion["bottom"] if bottom == "suggested" else bottom
        top = suggestion["top"] if top == "suggested" else top
    return {"method": "layer-swap", "bottom": bottom, "top": top,
            "transition": merge.transition, "ramp": merge.ramp, "embeddings": merge.embeddings,
            "lm_head": merge.lm_head}  # fmt: skip


def _check_plan(plan: list[dict], experts: dict) -> None:

    if not plan:
        return
    math = Checkpoint.open(experts["math"])
    tied = read_json(math.folder / "config.json", "model config").get("tie_word_embeddings")
    for spec in plan:
        where = f"merge '{spec['name']}'"
        if spec["method"] == "layer-swap":
            try:
                swap_plan(
                    math.layers, spec["bottom"], spec["top"], spec["transition"], spec["ramp"]
                )
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}") from None
            if tied and spec["embeddings"] != spec["lm_head"]:
                raise ConfigError(
                    f"{where}: the model ties its output head to the embeddings: embeddings "
                    "and lm_head must name the same expert"
                )
        elif spec.get("weights") is not None and len(spec["weights"]) != 2:
            raise ConfigError(
                f"{where}: weights: one per expert (math, language), not {spec['weights']}"
            )


def _make(spec: dict, recipe: MergeRecipe, experts: dict, folder: Path, overwrite: bool) -> dict:
    return MERGE_METHODS.get(spec["method"])().make(spec, experts, recipe.base, folder, overwrite)


def run_merge_recipe(
    recipe: MergeRecipe,
    *,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Run every missing stage of ``recipe``; returns the summary (also ``OUT/summary.json``)."""
    out = check_output_dir(recipe.out)
    with hold(out):  # one merge run per folder; each stage inside claims its own
        out.mkdir(parents=True, exist_ok=True)
        return _run_stages(recipe, out, overwrite=overwrite, progress=progress, log=log)


def _run_stages(recipe: MergeRecipe, out: Path, *, overwrite: bool, progress: bool, log) -> dict:
    experts = {
        role: _expert(recipe, role, out, overwrite, progress, log) for role in recipe.experts
    }
    analysis = None
    if recipe.base is not None and len(experts) == 2:
        analysis = _analysis(recipe.base, experts["math"], experts["language"], out, log, overwrite)
    suggestion = (analysis or {}).get("suggestion")
    plan, grid_names = _plan(recipe, suggestion)
    _check_plan(plan, experts)  # every merge checked before the first is made
    models: dict[str, Path] = {}
    if recipe.base is not None:
        models["base"] = Path(recipe.base)
    models.update({f"{role}-expert": path for role, path in experts.items()})
    for i, spec in enumerate(plan, 1):
        folder = out / "models" / spec["name"]
        settings = {k: v for k, v in spec.items() if k != "name"}
        made = _make(settings, recipe, experts, folder, overwrite)
        verb = "reused" if made.get("reused") else "made"
        log(f"merge {i}/{len(plan)}: {spec['name']} ({verb}) -> {folder}")
        models[spec["name"]] = folder
    runs: dict[str, Path] = {}
    if recipe.eval is not None:
        backends: dict = {}
        for i, (name, folder) in enumerate(models.items(), 1):
            log(f"eval {i}/{len(models)}: {name}")
            run = _redo_if_different(
                lambda overwrite, folder=folder, name=name: evaluate(
                    EvalConfig(
                        **recipe.eval,
                        model=str(folder),
                        out=str(out / "eval" / name),
                        progress=progress,
                        overwrite=overwrite,
                    ),
                    backends,
                ),
                overwrite,
            )
            runs[name] = run.out
            backends.clear()  # one model at a time in memory
    summary = _summary(recipe, out, models, runs, plan, grid_names, suggestion)
    write_json(out / "summary.json", summary)
    write_atomic(
        out / "recipe.yaml", yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
    )
    if runs:
        _report(summary, runs, out)
    return summary


def _summary(recipe, out, models, runs, plan, grid_names, suggestion) -> dict:
    accuracy: dict[str, dict] = {}
    for name, run in runs.items():
        results = read_json(Path(run) / "results.json", "results")
        accuracy[name] = {
            lang: {"accuracy": r["accuracy"], "ci95": r["ci95"], "n": r["n"]}
            for lang, r in results["languages"].items()
        }
    languages = list(dict.fromkeys(lang for table in accuracy.values() for lang in table))
    targets = [lang for lang in languages if lang != "en"] or languages
    swaps = [p["name"] for p in plan if p["method"] == "layer-swap"]

    def mean_target(name: str) -> float:
        table = accuracy.get(name, {})
        return sum(table[lang]["accuracy"] for lang in targets if lang in table) / max(
            1, len(targets)
        )

    best = max(swaps, key=mean_target, default=None) if accuracy else None
    suggested = next((p["name"] for p in plan if p["name"].startswith("swap-suggested")), None)
    return {
        "schema": SUMMARY_SCHEMA,
        "out": str(out),
        "models": {name: str(path) for name, path in models.items()},
        "merges": plan,
        "suggestion": suggestion,
        "grid": (
            {**recipe.grid.model_dump(), "names": grid_names} if recipe.grid is not None else None
        ),
        "languages": languages,
        "accuracy": accuracy,
        "best_swap": best,
        "best_swap_rule": f"highest mean accuracy over {', '.join(targets)} among the swaps "
        "(chosen on the evaluation items themselves: an optimistic figure)",
        "suggested_swap": suggested,
    }


def _report(summary: dict, runs: dict[str, Path], out: Path) -> None:

    comparison = compare_runs(list(runs.values()))  # named by folder: out/eval/<name>
    sections = []
    grid = summary.get("grid")
    if grid:
        suggestion = summary.get("suggestion")
        note = (
            f"The analysis suggests bottom {suggestion['bottom']}, top {suggestion['top']}."
            if suggestion
            else "No analysis (the recipe names no base)."
        )
        charts = []
        names = iter(grid["names"])
        cells = {(b, u): next(names) for b in grid["bottom"] for u in grid["top"]}
        for lang in summary["languages"]:
            values = [
                [
                    (summary["accuracy"].get(cells[b, u], {}).get(lang) or {}).get("accuracy")
                    for u in grid["top"]
                ]
                for b in grid["bottom"]
            ]
            charts.append(
                heatmap(
                    f"{lang}: accuracy of the layer swap",
                    [f"bottom {b}" for b in grid["bottom"]],
                    [f"top {u}" for u in grid["top"]],
                    values,
                    value_label="accuracy",
                    row_title="language expert's bottom layers",
                    column_title="language expert's top layers",
                    percent=True,
                )
            )
        sections.append({"title": "Layer-swap grid", "text": note, "charts": charts})
    write_comparison(comparison, out / "report", sections=sections)
