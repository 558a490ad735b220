"""Generation backends by name. A backend registers an import path, so choosing one imports only
that one (vLLM is never imported for the hf backend). ``load_backend`` gives one backend, or
``data_parallel_size`` replicas of it (``replicas.py``, whose processes load theirs through
``load_single_backend``)."""

from __future__ import annotations

import importlib

from polyglot.config import ConfigError
from polyglot.generation.base import Backend, GenerationSettings
from polyglot.generation.replicas import ReplicatedBackend

BACKENDS: dict[str, str] = {
    "hf": "polyglot.generation.hf_backend:HFBackend",
    "vllm": "polyglot.generation.vllm_backend:VLLMBackend",
}


def register_backend(name: str, target: str) -> None:
    """Make ``--backend name`` build ``target`` ("package.module:Class", called with the
    ``GenerationSettings``)."""
    BACKENDS[name] = target


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend '{name}'; known: {', '.join(sorted(BACKENDS))}")
    return name


def check_sampling(settings: GenerationSettings) -> None:
    check_backend(settings.backend)
    if settings.samples > 1 and settings.temperature <= 0:
        raise ConfigError("samples > 1 needs temperature > 0 (greedy samples are all the same)")


def load_single_backend(settings: GenerationSettings, target: str | None = None) -> Backend:
    """One backend in this process (no replicas, whatever ``data_parallel_size`` says);
    ``target``: the import path a replica process was handed (a backend its caller
    registered)."""
    if target is None:
        check_sampling(settings)
        target = BACKENDS[settings.backend]
    module, _, attribute = target.partition(":")
    try:
        backend_class = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as err:
        raise ConfigError(
            f"backend '{settings.backend}' is registered as '{target}', which cannot be "
            f"imported: {err}"
        ) from None
    return backend_class(settings)


def load_backend(settings: GenerationSettings) -> Backend:
    check_sampling(settings)
    if settings.data_parallel_size > 1:  # replicas, each a process with one backend
        return ReplicatedBackend(settings, BACKENDS[settings.backend], load_single_backend)
    return load_single_backend(settings)


def close_backends(backends: dict) -> None:
    """Close every backend (or translator) in a shared ``backends`` dict that holds processes
    of its own (data-parallel replicas): their GPUs are freed now, not at exit."""
    for backend in list(backends.values()):
        close = getattr(backend, "close", None)
        if callable(close):
            close()
    backends.clear()
