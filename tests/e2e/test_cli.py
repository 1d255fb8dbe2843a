"""The headless commands, run as a user would, on the real engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.helpers import others
from tests.support import ROOT, scratch_workspace, server_env, tiny_model

ENGINE = ["--model", str(tiny_model()), "--enforce-eager", "--max-model-len", "4096"]


def aicockpit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aicockpit", *args],
        cwd=ROOT,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_edit_prints_a_diff_of_the_selected_lines_only():
    target = scratch_workspace() / "shop" / "pricing.py"
    before = target.read_text()
    done = aicockpit(
        "edit", str(target), "--range", "14-16", "--instruction", "inline the rate", "--diff", *ENGINE, "-v"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert others(done.stderr), "--verbose shows the engine's log as it runs"
    assert done.stdout.startswith("--- a/pricing.py\n+++ b/pricing.py\n@@ ")
    removed = [
        line[1:] for line in done.stdout.split("\n") if line.startswith("-") and not line.startswith("---")
    ]
    assert removed and all(line in before.split("\n")[13:16] for line in removed)
    assert target.read_text() == before  # the CLI prints; it never writes the file


def test_chat_streams_an_answer_and_refuses_escapes():
    done = aicockpit(
        "chat",
        "what is in @shop/models.py and @../../etc/passwd?",
        "--workspace",
        str(scratch_workspace()),
        *ENGINE,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()
    assert "refused" in done.stderr and "-- session " in done.stderr
    assert others(done.stderr) == []  # the engine's log went to a file


def test_a_failed_run_shows_the_error_and_where_the_whole_log_is(tmp_path):
    source = tmp_path / "a.py"
    source.write_text("x = 1\n")
    done = aicockpit("complete", str(source), "--line", "1", "--col", "5", "--model", str(tmp_path / "gone"))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert f"aicockpit: the engine failed to start: model folder {tmp_path}/gone does not exist" in lines
    (where,) = [line for line in lines if line.startswith("aicockpit: the whole log of this run: ")]
    log = Path(where.split(": ")[2].split(" ")[0])
    try:
        assert "the engine cannot start: model folder" in log.read_text()
    finally:
        log.unlink()
