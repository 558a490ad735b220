"""Which model produced a result: path, hub revision, and a fingerprint of the local files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from polyglot.generation.base import GenerationSettings

_HEAD = 1 << 20  # bytes of each weight file that go into the fingerprint


def looks_local(model: str) -> bool:
    """A path rather than a hub id ("org/name" or "name")."""
    return (
        model.startswith((".", "/", "~"))
        or os.sep in model.strip("/").replace("/", "", 1)
        or Path(model).exists()
    )


def fingerprint(directory: str | Path) -> str | None:
    """sha256 over config.json, and each weight file's name, size and first MiB.

    Cheap on multi-GB checkpoints and changes whenever a checkpoint is retrained or replaced.
    """
    root = Path(directory)
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    for name in ("config.json", "adapter_config.json"):
        if (root / name).exists():
            digest.update((root / name).read_bytes())
    for path in sorted(root.glob("*.safetensors")) + sorted(root.glob("*.bin")):
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(_HEAD))
    return digest.hexdigest()[:16]


def describe_model(settings: GenerationSettings, model=None) -> dict:
    config = getattr(model, "config", None)
    return {
        "model": settings.model,
        "revision": settings.revision or getattr(config, "_commit_hash", None),
        "fingerprint": fingerprint(settings.model),
        "adapter": settings.adapter,
        "adapter_fingerprint": fingerprint(settings.adapter) if settings.adapter else None,
        "parameters": sum(p.numel() for p in model.parameters()) if model is not None else None,
    }
