"""``polyglot merge analyze``: how much each layer and module changed during fine-tuning.

For every tensor of the base, the relative change ``‖θ_expert − θ_base‖ / ‖θ_base‖`` of each
expert, streamed tensor by tensor from the safetensors shards (``safe_open`` maps the files;
one tensor of each model is in memory at a time, never two whole models). Tensors are grouped
by decoder layer and module: the layer pattern comes from the checkpoint itself (names of the
form ``<prefix>.<N>.<module>`` whose ``N`` runs over ``num_hidden_layers`` of ``config.json``),
not from a list of architectures; the rest (embeddings, final norm, output head) is reported
apart.

With two experts (the math expert first, the language expert second), the layers where the
language expert changed more than the math expert, relative to each expert's own largest
layer change, suggest the swap (Bandarkar et al., 2024: language changes sit in the outer
layers, math changes in the middle): ``bottom`` = how many layers from the bottom in a row are
language-dominant, ``top`` = the same from the top; the rule is written into the output.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.files import read_json, write_atomic, write_json
from polyglot.merge.output import TOKENIZER_FILES
from polyglot.outputs import claim, identity_differences
from polyglot.provenance import fingerprint, make_card, write_card
from polyglot.report.charts import heatmap

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
KIND = "merge-analysis"


@dataclass(frozen=True)
class Checkpoint:
    """A safetensors checkpoint folder: which shard holds each tensor, and its layer count."""

    folder: Path
    shards: dict[str, Path]  # tensor name -> shard file
    layers: int

    @classmethod
    def open(cls, folder: str | Path) -> Checkpoint:
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a model folder")
        config = folder / "config.json"
        if not config.is_file():
            raise ConfigError(f"{folder}: no config.json (not a Hugging Face checkpoint)")
        settings = read_json(config, "model config")
        layers = settings.get("num_hidden_layers") or (settings.get("text_config") or {}).get(
            "num_hidden_layers"
        )
        if not isinstance(layers, int) or layers < 1:
            raise ConfigError(f"{config}: no num_hidden_layers")
        index = folder / INDEX_FILE
        if index.is_file():
            weight_map = read_json(index, "shard index").get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise ConfigError(f"{index}: no weight_map")
            shards = {name: folder / file for name, file in weight_map.items()}
            missing = sorted({str(p.name) for p in shards.values() if not p.is_file()})
            if missing:
                raise ConfigError(f"{index} names shard(s) that are missing: {', '.join(missing)}")
        elif (folder / SINGLE_FILE).is_file():
            from safetensors import safe_open

            try:
                with safe_open(folder / SINGLE_FILE, "pt") as handle:
                    names = list(handle.keys())
            except Exception as err:  # noqa: BLE001 - a damaged file
                raise ConfigError(f"{folder / SINGLE_FILE}: damaged ({err})") from None
            shards = dict.fromkeys(names, folder / SINGLE_FILE)
        else:
            raise ConfigError(f"{folder}: no safetensors weights ({SINGLE_FILE} or {INDEX_FILE})")
        return cls(folder, shards, layers)

    def dtype(self) -> str:
        """The torch dtype name of the weights (of the first tensor), e.g. ``bfloat16``."""
        from safetensors import safe_open

        name, shard = next(iter(self.shards.items()))
        with safe_open(shard, "pt") as handle:
            code = handle.get_slice(name).get_dtype()
        return _DTYPES.get(code, "float32")

    def layer_of(self, name: str) -> tuple[int, str] | None:
        """(layer, module) of a decoder-layer tensor, or None for the rest."""
        match = _LAYER.match(name)
        if match and int(match.group(2)) < self.layers:
            module = re.sub(r"\.(weight|bias)$", "", match.group(3))
            return int(match.group(2)), module
        return None


_DTYPES = {"F32": "float32", "BF16": "bfloat16", "F16": "float16", "F64": "float64"}
_LAYER = re.compile(r"^(.*?)\.(\d+)\.(.+)$")


def _open_all(files: set[Path]):
    from safetensors import safe_open

    handles = {}
    for path in files:
        try:
            handles[path] = safe_open(path, "pt")
        except Exception as err:  # noqa: BLE001 - a damaged shard
            raise ConfigError(f"{path}: damaged safetensors file ({err})") from None
    return handles


def relative_changes(base: Checkpoint, expert: Checkpoint) -> dict[str, float]:
    """‖θ_expert − θ_base‖ / ‖θ_base‖ for every tensor of the base, one tensor at a time."""
    missing = sorted(set(base.shards) - set(expert.shards))
    if missing:
        raise ConfigError(
            f"{expert.folder} lacks {len(missing)} tensor(s) of {base.folder} (another "
            f"architecture?), e.g. {missing[0]}"
        )
    base_files = _open_all(set(base.shards.values()))
    expert_files = _open_all(set(expert.shards.values()))
    changes = {}
    for name, shard in base.shards.items():
        before = base_files[shard].get_tensor(name).double()
        after = expert_files[expert.shards[name]].get_tensor(name).double()
        if before.shape != after.shape:
            raise ConfigError(
                f"{name}: shape {tuple(after.shape)} in {expert.folder}, "
                f"{tuple(before.shape)} in {base.folder}"
            )
        norm = before.norm().item()
        changes[name] = (after - before).norm().item() / norm if norm else 0.0
    return changes


def group_by_layer(base: Checkpoint, changes: dict[str, float]) -> dict:
    """{"layers": {layer: {module: change}}, "other": {name: change}, "per_layer": [mean]}."""
    layers: dict[int, dict[str, float]] = defaultdict(dict)
    other = {}
    for name, value in changes.items():
        where = base.layer_of(name)
        if where is None:
            other[re.sub(r"\.(weight|bias)$", "", name)] = value
        else:
            layers[where[0]][where[1]] = value
    per_layer = [
        sum(layers[i].values()) / len(layers[i]) if layers[i] else 0.0 for i in range(base.layers)
    ]
    return {
        "layers": {i: layers[i] for i in range(base.layers)},
        "other": other,
        "per_layer": per_layer,
    }


MARGIN = 0.1
SUGGESTION_RULE = (
    "each expert's mean change per layer is divided by its largest; a layer is "
    "language-dominant when the language expert's (second --expert) share is above the math "
    f"expert's (first --expert) by more than {MARGIN}; bottom = language-dominant layers in a "
    "row from the bottom, top = the same from the top (at least one middle layer stays the "
    "math expert's)"
)


def suggest_swap(math_profile: list[float], language_profile: list[float]) -> dict:
    """The (bottom, top) the two experts' change profiles suggest, with the rule."""
    top_math, top_language = max(math_profile) or 1.0, max(language_profile) or 1.0
    dominant = [
        lang / top_language > math / top_math + MARGIN
        for math, lang in zip(math_profile, language_profile, strict=True)
    ]
    layers = len(dominant)
    bottom = next((i for i, d in enumerate(dominant) if not d), layers)
    top = next((i for i, d in enumerate(reversed(dominant)) if not d), layers)
    while bottom + top >= layers and (bottom or top):  # keep a middle layer for math
        if bottom >= top:
            bottom -= 1
        else:
            top -= 1
    return {"bottom": bottom, "top": top, "language_dominant": dominant, "rule": SUGGESTION_RULE}


def analyze(
    base: str | Path, experts: list[str | Path], out: str | Path, *, overwrite: bool = False
) -> dict:
    """Write ``out/analysis.json`` and ``out/analysis.html`` (heatmaps) for 1-2 experts. ``out``
    may hold an analysis of the same models (rewritten); of other models only with
    ``overwrite``; anything else is refused."""

    if not 1 <= len(experts) <= 2:
        raise ConfigError("give one or two --expert (math expert first, language expert second)")
    inputs = {"base": fingerprint(base), "experts": [fingerprint(e) for e in experts]}
    # an analysis of the same models is rewritten; of other models only with overwrite
    with claim(out, KIND, overwrite=overwrite, differences=lambda previous: identity_differences(
        previous.get("inputs") or {}, inputs)) as taken:  # fmt: skip
        return _analyze(base, experts, taken.folder, inputs)


def _analyze(base, experts, out: Path, inputs: dict) -> dict:

    reference = Checkpoint.open(base)
    profiles = []
    for path in experts:
        expert = Checkpoint.open(path)
        if expert.layers != reference.layers:
            raise ConfigError(
                f"{expert.folder} has {expert.layers} layers, {reference.folder} {reference.layers}"
            )
        grouped = group_by_layer(reference, relative_changes(reference, expert))
        profiles.append({"expert": str(path), **grouped})
    modules = sorted({m for p in profiles for layer in p["layers"].values() for m in layer})
    result = {
        "base": str(base),
        "layers": reference.layers,
        "modules": modules,
        "experts": profiles,
    }
    if len(profiles) == 2:
        result["suggestion"] = suggest_swap(profiles[0]["per_layer"], profiles[1]["per_layer"])
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "analysis.json", json.loads(json.dumps(result)))
    rows = [f"layer {i}" for i in range(reference.layers)]
    charts = []
    for profile in profiles:
        values = [[profile["layers"][i].get(m) for m in modules] for i in range(reference.layers)]
        charts.append(
            heatmap(
                f"relative change per layer and module: {Path(profile['expert']).name}",
                rows,
                modules,
                values,
                value_label="‖θ_ft − θ_base‖ / ‖θ_base‖",
                row_title="decoder layer (0 = bottom)",
                column_title="module",
            )
        )
    if len(profiles) == 2:
        diff = [
            [
                (profiles[1]["layers"][i].get(m) or 0.0) - (profiles[0]["layers"][i].get(m) or 0.0)
                for m in modules
            ]
            for i in range(reference.layers)
        ]
        charts.append(
            heatmap(
                "language expert minus math expert",
                rows,
                modules,
                diff,
                value_label="difference of relative change",
                row_title="decoder layer (0 = bottom)",
                column_title="module",
            )
        )
    suggestion = result.get("suggestion")
    text = (
        f"<p>suggested swap: bottom {suggestion['bottom']}, top {suggestion['top']}. Rule: "
        f"{suggestion['rule']}.</p>"
        if suggestion
        else "<p>Give two experts (math first, language second) for a suggested swap.</p>"
    )
    write_atomic(
        out / "analysis.html",
        "<!doctype html><meta charset='utf-8'><title>layer change analysis</title>"
        f"<body style='font-family:sans-serif'>{text}{''.join(charts)}</body>",
    )
    write_card(
        out,
        make_card(
            KIND,
            {"base": str(base), "experts": [str(e) for e in experts]},
            inputs,
        ),
    )
    return result


def _tokenizer_digest(folder: Path) -> str | None:
    """A digest of the tokenizer files (None when the folder has none)."""
    digest, found = hashlib.sha256(), False
    for name in TOKENIZER_FILES:
        path = folder / name
        if path.is_file() and name != "tokenizer_config.json":
            digest.update(name.encode() + path.read_bytes())
            found = True
    return digest.hexdigest() if found else None


def check_same_model(math: Checkpoint, language: Checkpoint) -> dict:
    a = read_json(math.folder / "config.json", "model config")
    b = read_json(language.folder / "config.json", "model config")
    for key in (
        "model_type",
        "hidden_size",
        "num_hidden_layers",
        "vocab_size",
        "intermediate_size",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
    ):
        if a.get(key) != b.get(key):
            raise ConfigError(
                f"the experts differ in {key}: {a.get(key)} ({math.folder}) vs {b.get(key)} "
                f"({language.folder}); layer swapping needs two fine-tunes of one base"
            )
    if math.dtype() != language.dtype():
        raise ConfigError(
            f"the experts' weights differ in dtype: {math.dtype()} ({math.folder}) vs "
            f"{language.dtype()} ({language.folder}); save both in one dtype"
        )
    if set(math.shards) != set(language.shards):
        only = sorted(set(math.shards) ^ set(language.shards))
        raise ConfigError(f"the experts' tensors differ, e.g. {only[0]}")
    tokenizers = _tokenizer_digest(math.folder), _tokenizer_digest(language.folder)
    if None not in tokenizers and tokenizers[0] != tokenizers[1]:
        raise ConfigError(
            f"the experts' tokenizers differ ({math.folder}, {language.folder}); both must be "
            "fine-tunes of one base with its tokenizer"
        )
    return a
