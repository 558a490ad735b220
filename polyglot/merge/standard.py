"""The standard merges that layer swapping is compared with, run through mergekit's Python API:
a model soup (weighted average of the experts), task arithmetic (the base plus the weighted sum
of each expert's change) and TIES (the same, after trimming each change to its largest
``density`` share and electing one sign per parameter; Yadav et al., 2023)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from polyglot.config import ConfigError
from polyglot.files import read_json
from polyglot.merge.analyze import Checkpoint, check_same_model
from polyglot.merge.methods import MERGE_METHODS, MergeMethod
from polyglot.merge.output import abandon, finish, inputs_identity, prepare
from polyglot.models import quiet_transformers


class StandardMerge(MergeMethod):
    """A merge run through mergekit (``mergekit_method``) over the experts."""

    mergekit_method: ClassVar[str]

    def make(self, spec, experts, base, folder, overwrite):
        return standard_merge(self.name, [experts["math"], experts["language"]], folder,
                              base=base, weights=spec.get("weights"),
                              density=spec.get("density", 0.5), overwrite=overwrite)  # fmt: skip


@MERGE_METHODS.register("soup")
class Soup(StandardMerge):
    name, mergekit_method = "soup", "linear"
    description = (
        "a model soup: the weighted average of the experts' parameters (weights normalised to "
        "sum to 1)"
    )


@MERGE_METHODS.register("task-arithmetic")
class TaskArithmetic(StandardMerge):
    name, mergekit_method, needs_base = "task-arithmetic", "task_arithmetic", True
    description = "task arithmetic: the base plus the weighted sum of each expert's change"


@MERGE_METHODS.register("ties")
class Ties(StandardMerge):
    name, mergekit_method, needs_base = "ties", "ties", True
    description = (
        "TIES: each expert's change trimmed to its largest `density` share, one sign elected "
        "per parameter, the agreeing changes averaged and added to the base"
    )


def standard_methods() -> list[str]:
    return [n for n in MERGE_METHODS.names() if issubclass(MERGE_METHODS.get(n), StandardMerge)]


def require_mergekit(what: str, checkpoints: list[Checkpoint]) -> None:
    """mergekit importable, and checkpoints it can read (it picks the architecture from the
    config's ``architectures``)."""
    try:
        import mergekit  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"{what} runs through mergekit: pip install 'polyglot-reasoning[merge]'"
        ) from None

    for checkpoint in checkpoints:
        config = read_json(checkpoint.folder / "config.json", "model config")
        if not config.get("architectures"):
            raise ConfigError(
                f"{checkpoint.folder / 'config.json'}: no 'architectures' (e.g. "
                '["LlamaForCausalLM"]); mergekit needs it to read the model'
            )


def default_weights(method: str, count: int) -> list[float]:
    """A soup averages (1/n each); task arithmetic and TIES add each change in full."""
    return [1.0 / count] * count if method == "soup" else [1.0] * count


def mergekit_config(
    method: str,
    experts: list[str],
    *,
    base: str | None,
    weights: list[float],
    density: float,
    dtype: str,
) -> dict:
    """The mergekit configuration of one standard merge."""
    models = []
    for expert, weight in zip(experts, weights, strict=True):
        parameters: dict = {"weight": weight}
        if method == "ties":
            parameters["density"] = density
        models.append({"model": expert, "parameters": parameters})
    method_class = MERGE_METHODS.get(method)
    config: dict = {"merge_method": method_class.mergekit_method, "models": models, "dtype": dtype}
    if method != "soup":
        config["base_model"] = base
    if method == "ties":
        config["parameters"] = {"normalize": True}
    elif method == "soup":
        config["parameters"] = {"normalize": True}  # weights are relative: always an average
    return config


def standard_merge(
    method: str,
    experts: list[str | Path],
    out: str | Path,
    *,
    base: str | Path | None = None,
    weights: list[float] | None = None,
    density: float = 0.5,
    overwrite: bool = False,
) -> dict:
    """Merge ``experts`` by ``method`` (soup, task-arithmetic, ties) into ``out`` through
    mergekit; returns the recipe (also in ``out/merge.json``)."""
    if method not in standard_methods():
        raise ConfigError(f"merge method '{method}': one of {', '.join(standard_methods())}")
    if len(experts) < 2:
        raise ConfigError(f"{method}: give at least two experts (--expert twice)")
    if method != "soup" and base is None:
        raise ConfigError(f"{method} needs the base the experts were fine-tuned from (--base)")
    if not 0 < density <= 1:
        raise ConfigError(f"--density {density}: a share in (0, 1]")
    resolved = [Path(e).resolve() for e in experts]
    if len(set(resolved)) < len(resolved):
        raise ConfigError(f"{method}: an expert is given twice ({', '.join(map(str, experts))})")
    weights = list(weights) if weights else default_weights(method, len(experts))
    if len(weights) != len(experts):
        raise ConfigError(f"{len(weights)} weight(s) for {len(experts)} experts: give one each")

    checkpoints = [Checkpoint.open(e) for e in experts]
    for other in checkpoints[1:]:
        check_same_model(checkpoints[0], other)
    if base is not None:
        check_same_model(checkpoints[0], Checkpoint.open(base))
    require_mergekit(f"polyglot merge {method}", checkpoints)
    recipe = {
        "method": method,
        "experts": [str(e) for e in experts],
        "base": str(base) if base is not None else None,
        "weights": weights,
        "density": density if method == "ties" else None,
        "engine": "mergekit",
    }
    roles = {f"expert_{i}": e for i, e in enumerate(experts)}
    if base is not None:
        roles["base"] = base
    inputs = inputs_identity(roles)
    out = Path(out)
    temporary = prepare(out, recipe, inputs, overwrite=overwrite, sources=tuple(roles.values()))
    if temporary is None:
        return {**recipe, "reused": True}
    try:  # from here the claim on out is released however it ends
        from mergekit.config import MergeConfiguration
        from mergekit.merge import run_merge
        from mergekit.options import MergeOptions

        # absolute paths: mergekit.yaml works from any folder
        config = mergekit_config(
            method,
            [str(Path(e).resolve()) for e in experts],
            base=str(Path(base).resolve()) if base is not None else None,
            weights=weights,
            density=density,
            dtype=checkpoints[0].dtype(),
        )
        options = MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False)

        with quiet_transformers():  # mergekit's config handling warns about transformers' names
            run_merge(MergeConfiguration.model_validate(config), str(temporary), options)
        finish(
            temporary,
            out,
            config_from=checkpoints[0].folder,
            recipe=recipe,
            inputs=inputs,
            title=f"{method} (polyglot merge {method}, through mergekit)",
            description=f"{MERGE_METHODS.get(method).description}. Experts: "
            + ", ".join(f"`{e}` (weight {w:g})" for e, w in zip(experts, weights, strict=True))
            + (f"; base `{base}`." if base is not None else "."),
            mergekit=config,
        )
    except BaseException:
        abandon(temporary, out)
        raise
    return recipe
