"""The VS Code extension's own unit tests (mocha, client-vscode/test): its plain logic, such as
what the status item says for each state the server reports, after a strict type check."""

from __future__ import annotations

import shutil
import subprocess

from tests.support import ROOT

EXTENSION = ROOT / "client-vscode"


def test_the_extensions_unit_tests_pass():
    assert (EXTENSION / "node_modules" / ".bin" / "mocha").exists(), (
        "client-vscode has no node_modules: run `bash scripts/setup.sh` (it runs npm ci there)"
    )
    done = subprocess.run(
        [shutil.which("npm") or "npm", "test", "--silent"],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passing" in done.stdout and " failing" not in done.stdout, done.stdout[-2000:]
