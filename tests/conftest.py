"""Shared fixtures: the real benchmark data beside the checkout, and a clean pack cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from polyglot.resources import data_dir

FAKE_VLLM = Path(__file__).parent / "fake_vllm"  # a stand-in vLLM package (tests only)

# TRL's GKD loss (the reference of polyglot's distillation loss) lives in trl.experimental
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

# fixtures that build, train or load a model: a test using one is end-to-end
MODEL_FIXTURES = {
    "tiny_model",
    "testbed",
    "in_testbed",
    "shipped_testbed",
    "fake_vllm",
    "quickstart_run",
}


def pytest_collection_modifyitems(items):
    """Mark ``e2e`` every test that uses a model fixture, is marked ``slow`` or runs the real
    vLLM: ``make test-fast`` runs the rest (the unit tests)."""
    for item in items:
        if (
            MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
            or item.get_closest_marker("slow")
            or item.get_closest_marker("vllm")
        ):
            item.add_marker(pytest.mark.e2e)


def _shared_data_or_skip():
    root = data_dir()
    if not (root / "mgsm").is_dir() or not (root / "polymath-low").is_dir():
        reason = f"real benchmark data not found at {root} (set POLYGLOT_DATA_DIR)"
        if os.environ.get("POLYGLOT_REQUIRE_SHARED_DATA"):
            pytest.fail(reason + "; CI requires it")
        pytest.skip(reason)
    return root


@pytest.fixture(scope="session")
def shared_data():
    """../shared/data (MGSM, PolyMath); tests using it skip with a reason where it is absent."""
    return _shared_data_or_skip()


@pytest.fixture(scope="session")
def mgsm(shared_data):
    from polyglot.data import load_benchmark

    return load_benchmark("mgsm")


@pytest.fixture(scope="session")
def polymath(shared_data):
    from polyglot.data import load_benchmark

    return load_benchmark("polymath-low")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A randomly initialised 4-layer Llama with a sentencepiece tokenizer trained on the packs'
    text, saved as an ordinary HF checkpoint directory (no download)."""
    from polyglot.testbed.model import TinyModelSpec, random_checkpoint

    spec = TinyModelSpec(layers=4, hidden=64, intermediate=128)
    return random_checkpoint(tmp_path_factory.mktemp("tiny-model"), spec)


@pytest.fixture(autouse=True, scope="session")
def _fingerprint_cache(tmp_path_factory):
    """Model fingerprints are cached per user; tests keep theirs to themselves."""
    os.environ["POLYGLOT_CACHE_DIR"] = str(tmp_path_factory.mktemp("polyglot-cache"))


@pytest.fixture(scope="session")
def testbed(tmp_path_factory):
    """A tiny testbed (world, tokenizer, base) built once for the session; tests read it only."""
    from polyglot.testbed.build import build_testbed, tiny_config

    out = tmp_path_factory.mktemp("testbed")
    build_testbed(out, tiny_config(), progress=False, log=lambda m: None)
    return out


@pytest.fixture()
def in_testbed(testbed, monkeypatch):
    """``testbed`` as $POLYGLOT_TESTBED_DIR (where `--benchmark testbed` and data builds read)."""
    monkeypatch.setenv("POLYGLOT_TESTBED_DIR", str(testbed))
    return testbed


@pytest.fixture(scope="session")
def shipped_testbed(tmp_path_factory):
    """The default world with the shipped graded base (a model that gets some items right
    natively, as detectors need), built once for the session; tests read it only."""
    from polyglot.testbed.build import TestbedConfig, build_testbed

    out = tmp_path_factory.mktemp("shipped-testbed")
    build_testbed(out, TestbedConfig(), shipped=True, progress=False, log=lambda m: None)
    return out


@pytest.fixture
def fake_vllm(monkeypatch, tmp_path):
    """``import vllm`` finds the stand-in, here and in replica processes; returns the log."""
    log = tmp_path / "vllm.jsonl"
    monkeypatch.syspath_prepend(str(FAKE_VLLM))
    monkeypatch.setenv("PYTHONPATH", f"{FAKE_VLLM}:{':'.join(sys.path)}")
    monkeypatch.setenv("FAKE_VLLM_LOG", str(log))
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    yield log
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        del sys.modules[name]


@pytest.fixture
def kill_at_checkpoint():
    """``kill(process, out, step, what)``: SIGKILL ``process`` once a whole Trainer checkpoint
    of at least ``step`` is in ``out/_checkpoints`` (a kill mid-training, to resume from)."""
    import signal
    import time

    def kill(process, out: Path, step: int, what: str) -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            done = [p for p in (out / "_checkpoints").glob("checkpoint-*")
                    if (p / "trainer_state.json").exists()]  # fmt: skip
            if done and int(done[0].name.split("-")[1]) >= step:
                break
            if process.poll() is not None:
                pytest.fail(f"the {what} ended before it could be killed")
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()

    return kill
