"""ruff and mypy run with the tests, so style and type problems fail CI like any other bug."""

import subprocess
import sys

from tests.support import ROOT

# Files whose mypy errors are not counted yet: the lead is rewriting them (issue 24's one
# request pipeline). mypy still reads them (what the checked files import from them is
# checked); the lead removes each entry once its file is clean under strict, and then it
# stays clean. A folder ("…/") stands for every file in it.
NOT_YET_CHECKED = (
    "server/aicockpit/completion/",
    "server/aicockpit/next_edit/",
    "server/aicockpit/prompt/",
    "server/aicockpit/engine/routing.py",
    "server/aicockpit/engine/collect.py",
    "server/aicockpit/generation.py",
    "server/aicockpit/features/completion.py",
    "server/aicockpit/features/inline_completion.py",
    "server/aicockpit/features/next_edit.py",
    "server/aicockpit/features/code_actions.py",
)


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
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    counted = [line for line in errors if not line.startswith(NOT_YET_CHECKED)]
    assert not counted, "\n".join(counted)
    assert done.returncode == 0 or errors, done.stdout + done.stderr
