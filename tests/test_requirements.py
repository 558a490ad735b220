"""An unsupported transformers fails at import with one line, not deep inside a run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polyglot.requirements import UnsupportedVersion, check_versions


def test_transformers_older_than_4_56_is_refused_in_one_line():
    versions = {"transformers": "4.55.4", "torch": "2.13.0+cpu"}
    with pytest.raises(UnsupportedVersion) as err:
        check_versions(versions.__getitem__)
    message = str(err.value)
    assert "\n" not in message and "transformers >= 4.56.0" in message and "4.55.4" in message


def test_supported_versions_pass():
    check_versions({"transformers": "4.56.0", "torch": "2.4.0"}.__getitem__)
    check_versions({"transformers": "5.23.0", "torch": "2.13.0+cpu"}.__getitem__)


def test_the_command_line_says_it_in_one_line(tmp_path):
    """`polyglot` with an old transformers installed: one line on stderr and exit code 2."""
    shim = tmp_path / "sitecustomize.py"
    shim.write_text(
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '4.46.0' if name == 'transformers' else real(name)\n"
    )
    code = "import sys; sys.argv = ['polyglot', '--help']; import polyglot"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: polyglot needs transformers >= 4.56.0, but transformers 4.46.0 is installed: "
        "pip install -U 'transformers>=4.56.0'"
    ]
