"""The output folder of a merge: made in a temporary folder beside ``out`` and renamed at the
end (an interrupted merge never leaves a folder that looks complete), with the model's config
and tokenizer, ``merge.json`` (the recipe), a README and the card. A folder that already holds
the same merge of the same inputs is reused; another merge there is refused unless
``overwrite``; a folder that is not a merged model is never overwritten."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.files import check_output_dir, write_atomic, write_json
from polyglot.outputs import Claim, claim, identity_differences
from polyglot.provenance import fingerprint, make_card, write_card

KIND = "merged-model"
_claims: dict[str, Claim] = {}  # merges prepared in this process and not yet finished
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
)


def inputs_identity(models: dict[str, str | Path]) -> dict[str, str | None]:
    """The fingerprint of each input model (by role), what a rerun compares."""

    return {role: fingerprint(path) for role, path in models.items()}


# where a recipe names its inputs: their fingerprints identify them, not the path they were
# given by (relative or absolute, a moved run folder)
PATH_KEYS = ("math_expert", "language_expert", "experts", "base")


def settings(recipe: dict) -> dict:
    """A merge recipe without the paths of its inputs: what, with the inputs' fingerprints,
    decides whether a folder holds the same merge."""
    return {k: v for k, v in recipe.items() if k not in PATH_KEYS}


def _stale_temporaries(out: Path) -> None:
    """Remove temporary folders of merges into ``out`` whose process is gone (killed)."""
    for folder in [*out.parent.glob(f".{out.name}.tmp-*"), *out.parent.glob(f".{out.name}.old-*")]:
        pid = folder.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # another user's live process
            continue


def prepare(
    out: str | Path,
    recipe: dict,
    inputs: dict,
    *,
    overwrite: bool = False,
    sources: tuple[str | Path, ...] = (),
) -> Path | None:
    """A fresh temporary folder to merge into; ``None`` when ``out`` already holds this merge of
    these inputs (reused, with or without ``overwrite``, which only allows replacing a merge
    made differently)."""
    out = check_output_dir(out)
    for source in sources:
        if Path(source).resolve() == out.resolve():
            raise ConfigError(f"--out {out} is one of the models being merged; choose another")
    unfinished = _claims.pop(str(out), None)  # a merge into out that failed in this process
    if unfinished is not None:
        unfinished.release()
    taken = claim(
        out,
        KIND,
        overwrite=overwrite,
        complete=_complete,
        differences=lambda card: _differences(card, recipe, inputs),
        reuse_on_overwrite=True,
    )
    if taken.state == "reuse":
        taken.release()
        return None
    _claims[str(out)] = taken  # held until `finish` puts the merge in place
    if out.parent.is_dir():
        _stale_temporaries(out)
    temporary = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    return temporary


def abandon(temporary: Path, out: str | Path) -> None:
    """A merge that failed or was interrupted: its temporary folder goes, ``out`` is free."""
    shutil.rmtree(temporary, ignore_errors=True)
    taken = _claims.pop(str(check_output_dir(out)), None)
    if taken is not None:
        taken.release()


def _differences(card: dict, recipe: dict, inputs: dict) -> list[str]:
    return identity_differences(
        {"settings": settings(card.get("config") or {}), "inputs": card.get("inputs")},
        {"settings": settings(recipe), "inputs": inputs},
    )


def _complete(folder: Path) -> bool:
    """Every weight file the folder's index names is there (a folder cut short is remade)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            names = set(json.loads(index.read_text()).get("weight_map", {}).values())
        except (ValueError, AttributeError):
            return False
        return bool(names) and all((folder / name).is_file() for name in names)
    return any(folder.glob("*.safetensors"))


def finish(
    temporary: Path,
    out: Path,
    *,
    config_from: str | Path,
    recipe: dict,
    inputs: dict,
    title: str,
    description: str,
    mergekit: dict | None = None,
) -> None:
    """Copy the config and tokenizer, write merge.json, mergekit.yaml, README and card, then
    rename ``temporary`` to ``out``."""

    config_from = Path(config_from)
    # mergekit writes a config.json of its own; the source's is the one the experts were trained
    # with (the same architecture), so it replaces it for one loading path whatever the engine
    for name in ("config.json", "generation_config.json", *TOKENIZER_FILES):
        if (config_from / name).is_file():
            shutil.copy2(config_from / name, temporary / name)
    for leftover in ("mergekit_config.yml",):
        (temporary / leftover).unlink(missing_ok=True)
    write_json(temporary / "merge.json", recipe)
    if mergekit is not None:
        import yaml

        write_atomic(temporary / "mergekit.yaml", yaml.safe_dump(mergekit, sort_keys=False))
    write_atomic(
        temporary / "README.md",
        f"# {title}\n\n{description}\n\n```json\n{json.dumps(recipe, indent=1)}\n```\n",
    )
    write_card(temporary, make_card(KIND, recipe, inputs))
    if out.exists():  # the old folder aside first: at no moment is a half-deleted one in place
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        temporary.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        temporary.rename(out)
    taken = _claims.pop(str(out), None)
    if taken is not None:
        taken.release()
