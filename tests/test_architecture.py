"""How the package is put together (scripts/house_metrics.py measures it; docs/architecture.md
keeps the figures): no import cycles, no private names imported across modules, polyglot's own
modules imported at module level except where a heavy optional dependency needs laziness (each
such place says why), and `polyglot --help` imports none of the heavy libraries."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def metrics():
    spec = importlib.util.spec_from_file_location(
        "house_metrics", ROOT / "scripts/house_metrics.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["house_metrics"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_no_import_cycles(metrics):
    modules = metrics.read_package()
    assert metrics.cycles(metrics.edges(modules)) == []


def test_the_cycle_finder_finds_one(metrics, tmp_path):
    package = tmp_path / "polyglot"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "one.py").write_text("def f():\n    from polyglot.a import two\n")
    (package / "a" / "two.py").write_text("from polyglot.a.one import f\n")
    (package / "b.py").write_text("from polyglot.a.one import _hidden\n")
    modules = metrics.read_package(package)
    assert metrics.cycles(metrics.edges(modules)) == [["polyglot.a.one", "polyglot.a.two"]]
    assert metrics.private_imports(modules) == ["polyglot.b:1 imports polyglot.a.one._hidden"]
    assert [i.target for i in metrics.local_imports(modules)] == ["polyglot.a"]


def test_a_cycle_through_a_package_init_is_found(metrics, tmp_path):
    # packs.py imported text/numbers.py, whose package init imported answers.py, which
    # imported packs.py: a cycle none of the three modules shows alone
    package = tmp_path / "polyglot"
    (package / "text").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "packs.py").write_text("from polyglot.text.numbers import fmt\n")
    (package / "text" / "__init__.py").write_text("from polyglot.text.answers import read\n")
    (package / "text" / "numbers.py").write_text("def fmt(): ...\n")
    (package / "text" / "answers.py").write_text("from polyglot.packs import x\n")
    modules = metrics.read_package(package)
    assert metrics.cycles(metrics.edges(modules)) == [
        ["polyglot.packs", "polyglot.text", "polyglot.text.answers"]
    ]
    # the same names exported lazily (_EXPORTS, loaded on first use) are no cycle
    (package / "text" / "__init__.py").write_text("_EXPORTS = {'read': 'polyglot.text.answers'}\n")
    assert metrics.cycles(metrics.edges(metrics.read_package(package))) == []


def test_no_private_names_imported_across_modules(metrics):
    assert metrics.private_imports(metrics.read_package()) == []


def test_every_local_import_of_a_polyglot_module_says_why(metrics):
    unexplained = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in metrics.local_imports(metrics.read_package())
        if not imp.commented
    ]
    assert unexplained == []


def test_the_command_line_starts_without_heavy_libraries():
    code = (
        "import sys, polyglot.cli.main; "
        "heavy = {'torch', 'transformers', 'vllm', 'datasets', 'peft', 'trl', 'mergekit'}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
