"""``polyglot merge layer-swap``: the math expert with its bottom and top layers taken from the
language expert (Bandarkar et al., 2024), streamed shard by shard.

Layers ``[0, bottom)`` and ``[L - top, L)`` come from the language expert, the rest from the math
expert; with ``transition = t``, the ``t`` layers after the bottom block and the ``t`` layers
before the top block are weighted averages that ramp linearly from one expert to the other
(language weight ``1 - (k + 1) / (t + 1)`` for the k-th layer above the bottom block, and the
mirror image below the top block), computed in float32 and cast back to the checkpoint's dtype.
The embeddings come from ``embeddings`` (default the language expert), the final norm and the
output head from ``lm_head`` (default the language expert; tied embeddings need both the same).

The output keeps the math expert's shard layout: each of its shards is written in turn (tensors
read one at a time through ``safe_open``), so memory holds about one shard, not two models. It
is written into a temporary folder beside ``out`` and renamed at the end, so an interrupted
merge never leaves a folder that looks complete.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.files import write_atomic
from polyglot.merge.analyze import INDEX_FILE, Checkpoint, check_same_model
from polyglot.merge.methods import MERGE_METHODS, MergeMethod
from polyglot.merge.output import abandon, finish, inputs_identity, prepare
from polyglot.merge.standard import require_mergekit
from polyglot.merge.stream import read_header, write_streamed
from polyglot.models import quiet_transformers


def swap_plan(
    layers: int, bottom: int, top: int, transition: int = 0, ramp: list[float] | None = None
) -> list[float]:
    """The language expert's weight for each layer (1: its layer, 0: the math expert's).
    ``ramp``: the language expert's weight in each transition layer, from the one next to the
    swapped block inwards (default linear: ``1 - (k + 1) / (transition + 1)``)."""
    if min(bottom, top, transition) < 0:
        raise ConfigError("--bottom, --top and --transition must be >= 0")
    needed = bottom + top + transition * (bool(bottom) + bool(top))
    if needed > layers:
        raise ConfigError(
            f"--bottom {bottom} + --top {top} (+ --transition {transition} beside each swapped "
            f"block) is {needed} layers, more than the model's {layers}"
        )
    if ramp is None:
        ramp = [1 - (k + 1) / (transition + 1) for k in range(transition)]
    elif len(ramp) != transition or not all(0 <= w <= 1 for w in ramp):
        raise ConfigError(
            f"--ramp {','.join(f'{w:g}' for w in ramp)}: give one weight in [0, 1] per "
            f"transition layer ({transition}), from the swapped block inwards"
        )
    weights = [0.0] * layers
    for i in range(bottom):
        weights[i] = 1.0
    for i in range(layers - top, layers):
        weights[i] = 1.0
    for k, w in enumerate(ramp):
        if bottom:
            weights[bottom + k] = float(w)
        if top:
            weights[layers - top - 1 - k] = float(w)
    return weights


def mergekit_config(
    math_expert: str,
    language_expert: str,
    layers: int,
    weights: list[float],
    *,
    embeddings: str = "language",
    lm_head: str = "language",
    dtype: str = "float32",
) -> dict:
    """The mergekit configuration of the same swap: one slice per run of layers (``layer_range``
    is half-open), ``passthrough`` for a pure swap, ``linear`` with per-slice weights when there
    are transition layers. mergekit takes the embeddings from the first slice's model and the
    final norm and head from the last slice's: zero-length slices pick them when they differ."""
    model = {"language": language_expert, "math": math_expert}
    blended = any(0 < w < 1 for w in weights)
    slices = []
    start = 0
    for i in range(1, layers + 1):
        if i == layers or weights[i] != weights[start]:
            w = weights[start]
            if 0 < w < 1:
                sources = [
                    {
                        "model": language_expert,
                        "layer_range": [start, i],
                        "parameters": {"weight": w},
                    },
                    {
                        "model": math_expert,
                        "layer_range": [start, i],
                        "parameters": {"weight": 1 - w},
                    },
                ]
            else:
                source = {
                    "model": language_expert if w == 1 else math_expert,
                    "layer_range": [start, i],
                }
                if blended:
                    source["parameters"] = {"weight": 1.0}
                sources = [source]
            slices.append({"sources": sources})
            start = i
    first = slices[0]["sources"][0]["model"] if len(slices[0]["sources"]) == 1 else None
    if first != model[embeddings]:
        head = {"model": model[embeddings], "layer_range": [0, 0]}
        if blended:
            head["parameters"] = {"weight": 1.0}
        slices.insert(0, {"sources": [head]})
    last = slices[-1]["sources"][0]["model"] if len(slices[-1]["sources"]) == 1 else None
    if last != model[lm_head]:
        tail = {"model": model[lm_head], "layer_range": [layers, layers]}
        if blended:
            tail["parameters"] = {"weight": 1.0}
        slices.append({"sources": [tail]})
    return {
        "merge_method": "linear" if blended else "passthrough",
        "dtype": dtype,
        "slices": slices,
    }


def layer_swap(
    math_expert: str | Path,
    language_expert: str | Path,
    out: str | Path,
    *,
    bottom: int,
    top: int,
    transition: int = 0,
    ramp: list[float] | None = None,
    embeddings: str = "language",
    lm_head: str = "language",
    overwrite: bool = False,
    emit_mergekit: bool = False,
    engine: str = "native",
) -> dict:
    """Write the swapped model to ``out``; returns the recipe (also in ``out/merge.json``).
    ``emit_mergekit``: also write ``out/mergekit.yaml``, the same merge as a mergekit config;
    ``engine="mergekit"``: run that config through mergekit's Python API instead of the native
    path (mergekit must be installed: ``pip install 'polyglot-reasoning[merge]'``)."""

    if engine not in ("native", "mergekit"):
        raise ConfigError(f"--engine: 'native' or 'mergekit', not '{engine}'")
    if engine == "mergekit":
        emit_mergekit = True
    for flag, value in (("--embeddings", embeddings), ("--lm-head", lm_head)):
        if value not in ("language", "math"):
            raise ConfigError(f"{flag}: 'language' or 'math', not '{value}'")
    math, language = Checkpoint.open(math_expert), Checkpoint.open(language_expert)
    config = check_same_model(math, language)
    if engine == "mergekit":
        require_mergekit("--engine mergekit", [math, language])
    if config.get("tie_word_embeddings") and embeddings != lm_head:
        raise ConfigError(
            "this model ties its output head to the embeddings: --embeddings and --lm-head must "
            "name the same expert"
        )
    weights = swap_plan(math.layers, bottom, top, transition, ramp)

    def language_weight(name: str) -> float:
        where = math.layer_of(name)
        if where is not None:
            return weights[where[0]]
        choice = embeddings if "embed" in name else lm_head
        return 1.0 if choice == "language" else 0.0

    recipe = {
        "method": "layer-swap",
        "math_expert": str(math_expert),
        "language_expert": str(language_expert),
        "bottom": bottom,
        "top": top,
        "transition": transition,
        **({"ramp": [float(w) for w in ramp]} if ramp is not None else {}),
        "embeddings": embeddings,
        "lm_head": lm_head,
        "language_weight_per_layer": weights,
        "engine": engine,
    }
    inputs = inputs_identity({"math_expert": math_expert, "language_expert": language_expert})
    out = Path(out)
    temporary = prepare(
        out, recipe, inputs, overwrite=overwrite, sources=(math_expert, language_expert)
    )
    if temporary is None:
        if emit_mergekit and not (out / "mergekit.yaml").is_file():
            import yaml

            config = mergekit_config(str(Path(math_expert).resolve()),
                                     str(Path(language_expert).resolve()), math.layers, weights,
                                     embeddings=embeddings, lm_head=lm_head, dtype=math.dtype())  # fmt: skip
            write_atomic(out / "mergekit.yaml", yaml.safe_dump(config, sort_keys=False))
        return {**recipe, "reused": True}
    dtype = math.dtype()
    mk_config = mergekit_config(
        str(Path(math_expert).resolve()),  # absolute: the file works from any folder
        str(Path(language_expert).resolve()),
        math.layers,
        weights,
        embeddings=embeddings,
        lm_head=lm_head,
        dtype=dtype,
    )
    try:
        if engine == "mergekit":
            from mergekit.config import MergeConfiguration
            from mergekit.merge import run_merge
            from mergekit.options import MergeOptions

            options = MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False)
            with quiet_transformers():
                run_merge(MergeConfiguration.model_validate(mk_config), str(temporary), options)
        else:
            _write_native(math, language, temporary, language_weight)
        finish(
            temporary,
            out,
            config_from=math.folder,
            recipe=recipe,
            inputs=inputs,
            title="Layer swap (polyglot merge layer-swap)",
            description=f"Math expert `{math_expert}`, bottom {bottom} and top {top} layers "
            f"from the language expert `{language_expert}`, {transition} transition layer(s) at "
            f"each boundary; embeddings from the {embeddings} expert, final norm and output head "
            f"from the {lm_head} expert.",
            mergekit=mk_config if emit_mergekit else None,
        )
    except BaseException:
        abandon(temporary, out)
        raise
    return recipe


def _write_native(math: Checkpoint, language: Checkpoint, folder: Path, language_weight) -> None:
    """Each of the math expert's shards in turn, tensor by tensor: a tensor taken whole is copied
    byte for byte from its expert's file, a transition-layer tensor is blended in float32 and
    cast back to the checkpoint's dtype."""
    import torch
    from safetensors import safe_open

    headers = {}
    for path in {*math.shards.values(), *language.shards.values()}:
        headers[path] = read_header(path)
    for shard in sorted(set(math.shards.values())):
        entries, metadata = headers[shard]
        tensors = []
        for name, entry in entries.items():
            other = headers[language.shards[name]][0][name]
            if other.dtype != entry.dtype or other.shape != entry.shape:
                raise ConfigError(
                    f"{name}: {entry.dtype} {list(entry.shape)} in the math expert, "
                    f"{other.dtype} {list(other.shape)} in the language expert"
                )
            w = language_weight(name)
            size = entry.end - entry.start
            if w in (0.0, 1.0):
                tensors.append((name, entry.dtype, entry.shape, size, entry if w == 0 else other))
                continue

            def blend(name=name, w=w, a_path=shard, b_path=other.path):
                with safe_open(a_path, "pt") as fa, safe_open(b_path, "pt") as fb:
                    a, b = fa.get_tensor(name), fb.get_tensor(name)
                return _blend(b, a, w).contiguous().view(torch.uint8).numpy()

            tensors.append((name, entry.dtype, entry.shape, size, blend))
        write_streamed(folder / shard.name, tensors, metadata or None)
    if (math.folder / INDEX_FILE).is_file():
        shutil.copy2(math.folder / INDEX_FILE, folder / INDEX_FILE)


def _blend(language, math, w: float):
    """``w`` × language + (1 − w) × math in float32, cast back, with the operations in the order
    of mergekit's ``linear`` merge (accumulate each weighted tensor with ``addcmul_``, then
    divide by the sum of the weights), so that a transition layer is bit-identical to
    mergekit's for any weight, not only for those whose products are exact."""
    import torch

    rows = language.shape[0] if language.ndim else 1
    weights = torch.tensor([w, 1 - w], dtype=torch.float32).expand(rows, 2)  # one per row
    shape = (rows,) + (1,) * (language.ndim - 1) if language.ndim else ()
    result = torch.zeros_like(language, dtype=torch.float32)
    for tensor, coefficient in zip((language, math), weights.unbind(1), strict=True):
        result.addcmul_(tensor.to(torch.float32), coefficient.reshape(shape))
    result.div_(weights.sum(dim=1).reshape(shape))
    return result.to(language.dtype)


@MERGE_METHODS.register("layer-swap")
class LayerSwap(MergeMethod):
    name, swaps_layers = "layer-swap", True
    description = (
        "layer swapping: the math expert with its bottom and top layers from the language expert"
    )

    def make(self, spec, experts, base, folder, overwrite):
        return layer_swap(experts["math"], experts["language"], folder, bottom=spec["bottom"],
                          top=spec["top"], transition=spec["transition"], ramp=spec["ramp"],
                          embeddings=spec["embeddings"], lm_head=spec["lm_head"],
                          overwrite=overwrite)  # fmt: skip
