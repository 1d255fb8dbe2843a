"""The headless commands, run as a user would, on the real engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import others
from tests.support import ROOT, scratch_workspace, server_env, tiny_model

ENGINE = ["--model", str(tiny_model()), "--enforce-eager", "--max-model-len", "4096"]
PRICING = scratch_workspace() / "shop" / "pricing.py"
PRICING_BEFORE = PRICING.read_text()


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aicockpit", *args],
        cwd=ROOT,
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def aicockpit(*args: str) -> subprocess.CompletedProcess:
    return finished(start(*args))


@pytest.fixture(scope="module")
def runs():
    """The edit and the chat below, started at once: each spends ~12 s starting its engine,
    mostly on one core, and this machine has two."""
    started = {
        "edit": start(
            "edit",
            str(PRICING),
            "--range",
            "14-16",
            "--instruction",
            "inline the rate",
            "--diff",
            *ENGINE,
            "-v",
        ),
        "chat": start(
            "chat",
            "what is in @shop/models.py and @../../etc/passwd?",
            "--workspace",
            str(scratch_workspace()),
            *ENGINE,
        ),
    }
    yield started
    for process in started.values():
        process.kill()
        process.wait()


def test_edit_prints_a_diff_of_the_selected_lines_only(runs):
    done = finished(runs["edit"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert others(done.stderr), "--verbose shows the engine's log as it runs"
    assert done.stdout.startswith("--- a/pricing.py\n+++ b/pricing.py\n@@ ")
    removed = [
        line[1:] for line in done.stdout.split("\n") if line.startswith("-") and not line.startswith("---")
    ]
    assert removed and all(line in PRICING_BEFORE.split("\n")[13:16] for line in removed)
    assert PRICING.read_text() == PRICING_BEFORE  # the CLI prints; it never writes the file


def test_chat_streams_an_answer_and_refuses_escapes(runs):
    done = finished(runs["chat"])
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
