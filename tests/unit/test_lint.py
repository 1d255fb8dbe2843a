"""ruff runs with the tests, so style problems fail CI like any other bug."""

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
