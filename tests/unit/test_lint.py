"""ruff and mypy run with the tests, so style and type problems fail CI like any other bug."""

import subprocess
import sys

from tests.support import ROOT


def test_ruff_check_and_format():
    for args in (
        ["check", "server", "tests", "fixtures"],
        ["format", "--check", "server", "tests", "fixtures"],
    ):
        done = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict():
    # pyproject.toml's [tool.mypy]: server/aicockpit, strict, its cache under .cache/mypy (a
    # few seconds once warm, about ten cold).
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    # Exit status 1: type errors, listed; 2: mypy itself failed (a crash, a bad configuration).
    assert done.returncode != 2, "mypy failed:\n" + done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
