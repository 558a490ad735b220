"""Backends by name: a registered backend is built from its import path; a bad one is one line."""

from __future__ import annotations

import pytest

from polyglot.config import ConfigError
from polyglot.generation import GenerationSettings, load_backend, register_backend
from polyglot.generation.registry import BACKENDS


class EchoBackend:
    name = "echo"

    def __init__(self, settings):
        self.settings = settings


@pytest.fixture
def registry():
    saved = dict(BACKENDS)
    yield
    BACKENDS.clear()
    BACKENDS.update(saved)


def test_a_registered_backend_is_built_by_name(registry):
    register_backend("echo", f"{__name__}:EchoBackend")
    backend = load_backend(GenerationSettings(model="x", backend="echo"))
    assert isinstance(backend, EchoBackend) and backend.settings.model == "x"


def test_unknown_and_unimportable_backends_are_one_line(registry):
    with pytest.raises(ConfigError, match="unknown backend 'tgi'; known: hf, vllm"):
        load_backend(GenerationSettings(model="x", backend="tgi"))
    register_backend("broken", "polyglot.no_such_module:Backend")
    with pytest.raises(ConfigError, match="registered as 'polyglot.no_such_module:Backend'"):
        load_backend(GenerationSettings(model="x", backend="broken"))
